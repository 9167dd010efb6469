"""What a file is by its leading bytes, for the files whose name says nothing.

Fuzzing corpora (``70306.fuzz``), mail exports (``attachment-1``), download folders
(``report.bin``) hold PDFs and recordings under names that carry no usable suffix. The
ingest chooses a connector by suffix first; only when the suffix names no connector does
it read the file's first :data:`HEAD_BYTES` and ask :func:`recognise`. A known suffix
always keeps its connector, so a PDF named ``.txt`` is refused by the text connector,
which names what the content is (:func:`docframe.connectors.sources.mislabeled`),
rather than read as a PDF behind the user's back.

The table is small and explicit rather than a library (filetype, puremagic): only the
kinds a connector here reads matter, and two of them need more than a fixed prefix (a
PDF header may follow up to 1 KiB of junk, as Acrobat allows; an MPEG audio frame header
is a bit pattern, checked strictly so that text — UTF-16's ``FF FE`` — is not taken for
sound). Text and tables are never recognised by content: a ``Makefile`` or ``LICENSE``
met while walking a folder stays unsupported instead of becoming a document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HEAD_BYTES = 1024  # a PDF header may start anywhere in the first KiB

# ftyp brands of still images (HEIF, AVIF, Canon raw): ISO media, but nothing to transcribe
_IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif",
     b"avis", b"crx "}
)  # fmt: skip
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
# the second byte of an MPEG audio frame header: 11 sync bits, then version and layer;
# layer III and II of MPEG-1, -2 and -2.5 are MP3/MP2, layer "00" is ADTS AAC
_MPEG_LAYER_2_3 = frozenset({0xFA, 0xFB, 0xF2, 0xF3, 0xE2, 0xE3, 0xFC, 0xFD, 0xF4, 0xF5})
_ADTS = frozenset({0xF0, 0xF1, 0xF8, 0xF9})


@dataclass(frozen=True)
class Chosen:
    """The connector an input is read with, and how it was told: ``recognised`` says what
    the content was found to be when the name did not say (None: by its suffix)."""

    connector: Any
    recognised: str | None = None


def recognise(head: bytes) -> tuple[str, str] | None:
    """(what the content is, the suffix whose connector reads it) for a PDF or a media
    container, from a file's first :data:`HEAD_BYTES`; None for anything else."""
    pos = head.find(b"%PDF-", 0, HEAD_BYTES)
    if pos >= 0:
        where = "" if pos == 0 else f" (its header after {pos} bytes of other data)"
        return f"a PDF document{where}", ".pdf"
    return media(head)


def media(head: bytes) -> tuple[str, str] | None:
    """(what, suffix) for an audio or video container's signature, or None.

    Every signature is anchored and includes bytes text does not hold, so a CSV whose
    first cell is ``ID3`` or ``OggS`` is not taken for a recording."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "a WAV recording", ".wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "an AVI film", ".avi"
    if head[:3] == b"ID3" and len(head) >= 5 and head[3] in (2, 3, 4) and head[4] < 0xFF:
        return "an MP3 recording", ".mp3"
    if head[:4] == b"fLaC":
        return "a FLAC recording", ".flac"
    if head[:5] == b"OggS\x00":
        return "an Ogg recording", ".ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska or WebM, sound or film
        kind = "WebM" if b"webm" in head[:64] else "Matroska"
        return f"a {kind} file", ".webm"
    if head[:2] == b"\x00\x00" and head[4:8] == b"ftyp" and head[8:12] not in _IMAGE_BRANDS:
        if head[8:12] in _AUDIO_BRANDS:
            return "an MPEG-4 audio file", ".m4a"
        if head[8:12] == b"qt  ":
            return "a QuickTime film", ".mov"
        return "an MPEG-4 file", ".mp4"
    if len(head) >= 3 and head[0] == 0xFF:
        # the third byte must name a real bitrate and sample rate (MPEG), a real sample
        # rate (ADTS): the reserved values are what random bytes would give
        third = head[2]
        if head[1] in _MPEG_LAYER_2_3 and third >> 4 != 0xF and (third >> 2) & 0x3 != 0x3:
            return "an MPEG audio recording", ".mp3"
        if head[1] in _ADTS and (third >> 2) & 0xF <= 12:
            return "an AAC audio recording", ".aac"
    return None
