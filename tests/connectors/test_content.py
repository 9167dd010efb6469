"""Telling a file's type by its content when its name says nothing (``report.bin``,
``70306.fuzz``, no suffix at all), and only then: real PDFs and recordings from the
shared corpus, a WAV written with the standard library, and text that must not be taken
for either."""

from __future__ import annotations

import math
import shutil
import struct
import wave
from pathlib import Path

import pytest

from docframe.connectors import choose_connector, connector_for
from docframe.connectors.content import HEAD_BYTES, recognise
from docframe.errors import ConnectorError, UnsupportedInputError
from tests.conftest import SHARED_CORPUS
from tests.connectors.audio_corpus import AUDIO, VIDEO, require

PDFS = SHARED_CORPUS / "pdfs"
MINIMAL = PDFS / "py-pdf-sample-files" / "minimal-document.pdf"


def write_tone(path: Path, seconds: float = 1.0, rate: int = 16_000) -> Path:
    """A real WAV file (a 440 Hz tone), written by the standard library's ``wave``."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = (
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
            for i in range(int(seconds * rate))
        )
        out.writeframes(b"".join(frames))
    return path


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


@pytest.mark.parametrize(
    ("source", "suffix"),
    [
        (AUDIO / "jfk.wav", ".wav"),
        (AUDIO / "jfk.mp3", ".mp3"),
        (AUDIO / "jfk.flac", ".flac"),
        (AUDIO / "fleurs" / "fleurs-en-000.ogg", ".ogg"),
        (VIDEO / "big_buck_bunny_432_433.webm", ".webm"),
        (MINIMAL, ".pdf"),
        (PDFS / "qpdf" / "70306.fuzz", ".pdf"),  # an oss-fuzz reproducer: %PDF--255.1
    ],
)
def test_real_files_are_recognised_by_their_first_bytes(source, suffix):
    found = recognise(_head(require(source)))
    assert found is not None and found[1] == suffix, found


def test_a_wav_written_by_the_wave_module_is_a_recording(tmp_path):
    assert recognise(_head(write_tone(tmp_path / "tone"))) == ("a WAV recording", ".wav")


def test_a_pdf_header_after_other_bytes_is_found_within_the_first_kib():
    """Acrobat reads a PDF whose header follows up to 1 KiB of junk (a mail export's
    headers, a fuzzer's prefix): so does the recognition, and it says so."""
    found = recognise(b"From: clerk@example.org\r\n\r\n%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    assert found == ("a PDF document (its header after 27 bytes of other data)", ".pdf")


@pytest.mark.parametrize(
    "head",
    [
        b"ID3,name\n1,Orca\n",  # a CSV whose first cell looks like a tag
        b"OggS are mentioned here\n",
        "caf\u00e9 notes".encode("utf-16"),  # UTF-16 text starts FF FE: not an MPEG frame
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",  # a HEIF photo is ISO media
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"A PDF header past the first KiB." + b" " * HEAD_BYTES + b"%PDF-1.7",
        b"Plain notes about sandstone.\n",
    ],
)
def test_text_and_other_binaries_are_not_taken_for_a_pdf_or_a_recording(head):
    assert recognise(head) is None


@pytest.mark.parametrize("name", ["report.bin", "x.fuzz", "attachment-1"])
def test_a_pdf_under_a_name_that_says_nothing_goes_to_the_pdf_connector(tmp_path, name):
    path = tmp_path / name
    shutil.copyfile(require(MINIMAL), path)
    chosen = choose_connector(path)
    assert chosen.connector.name == "pdf"
    assert chosen.recognised == "a PDF document"


def test_a_recording_without_a_suffix_goes_to_the_audio_connector(tmp_path):
    chosen = choose_connector(write_tone(tmp_path / "voicemail"))
    assert chosen.connector.name == "audio" and chosen.recognised == "a WAV recording"
    film = tmp_path / "clip"
    shutil.copyfile(require(VIDEO / "big_buck_bunny_432_433.webm"), film)
    assert choose_connector(film).connector.name == "video"  # probed: it has a picture


def test_a_known_suffix_keeps_its_connector_and_its_error_names_the_real_type(tmp_path):
    """A PDF named .txt is read by the text connector, which refuses it saying what it
    is, as the table connectors do for a workbook named .csv."""
    path = tmp_path / "notes.txt"
    shutil.copyfile(require(MINIMAL), path)
    chosen = choose_connector(path)
    assert chosen.connector.name == "text" and chosen.recognised is None
    with pytest.raises(ConnectorError) as caught:
        list(chosen.connector.extract(path))
    assert caught.value.message == f"{path}: not a text file: the content is a PDF document"
    assert caught.value.help == "give the file its real extension (.pdf)"


@pytest.mark.parametrize(
    ("source", "name", "expected", "what", "suffix"),
    [
        (AUDIO / "jfk.wav", "talk.pdf", "a PDF document", "a WAV recording", ".wav"),
        (MINIMAL, "minutes.mp3", "an audio or video file", "a PDF document", ".pdf"),
        (MINIMAL, "minutes.mp4", "an audio or video file", "a PDF document", ".pdf"),
    ],
)
def test_pdf_and_media_connectors_name_the_real_type_of_a_mislabeled_file(
    tmp_path, source, name, expected, what, suffix
):
    """Before a parser's own error ("cannot open the file as PDF"), the connector says
    what the file is, as the text and table connectors do."""
    path = tmp_path / name
    shutil.copyfile(require(source), path)
    with pytest.raises(ConnectorError) as caught:
        list(connector_for(path).extract(path))
    assert caught.value.message == f"{path}: not {expected}: the content is {what}"
    assert caught.value.help == f"give the file its real extension ({suffix})"


def test_a_pdf_without_its_header_still_goes_to_the_pdf_parsers():
    """qpdf's fuzz-16214.pdf has no %PDF- header at all: nothing says it is another
    type, so the parsers get it (and say what they find)."""
    from docframe.connectors.sources import refuse_other_format

    refuse_other_format(require(PDFS / "qpdf" / "fuzz-16214.pdf"), "a PDF document", (".pdf",))


def test_unknown_content_under_an_unknown_name_stays_unsupported(tmp_path):
    path = tmp_path / "photo.dat"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(UnsupportedInputError) as caught:
        connector_for(path)
    assert caught.value.message == f"{path}: no connector for file type '.dat'"
    assert "recognised by content" in caught.value.help
    makefile = tmp_path / "Makefile"  # text is never sniffed into a document
    makefile.write_text("all:\n\techo hi\n")
    with pytest.raises(UnsupportedInputError):
        connector_for(makefile)
