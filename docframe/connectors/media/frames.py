"""What is on screen: sample the frames where the picture changes, read their text.

Why not the codec's keyframes: a screen recording or a slide deck has one keyframe
every 10-20 s (x264's default GOP is 250 frames), and a slide that appears between
two keyframes is only in the predicted frames after it. So every frame is decoded
(PyAV, the codec's own threads) and, at most every :data:`EXAMINE_EVERY_S` seconds,
one is looked at: a 256x144 grey copy (swscale does the shrinking) and its 64x36
block mean are compared with those of the last *sampled* frame. Decoding every
frame is what inter-coded video costs anyway (a predicted frame needs the frames
before it); the look is what is capped, so a 60 fps recording costs no more
comparisons than a 10 fps one. Measured (2 shared cores): a 180 s 720p25 h264 slide
video decodes and is looked at in 2.8 s, 30 s of Big Buck Bunny (VP8 720p24) in
0.65 s. Skipping non-reference frames (``skip_frame = "NONREF"``) would halve the
h264 decoding, but leaves gaps that depend on the encoder: not done.

The measure is the share of pixels that changed by more than :data:`NOISE_LEVEL`
(:func:`difference`), not the mean difference: new text on the same background
moves few pixels a lot (a slide's new title changes 1 % of them, its mean
difference is 0.002, under any threshold that ignores film grain and compression
noise). The picture *changed* when the 64x36 copy's share passed
``scene_threshold``, or when more than :data:`FINE_PIXELS` pixels of the 256x144
copy changed: slides of one template that differ in a number or a word move too
few pixels for 64x36. Measured on 720p slides: a new line of 14 pt text changes
0.006 of the 64x36 copy; one digit in 28 pt text 16 pixels of the 256x144 copy, a
word 53, a moving mouse cursor 38 (so a cursor that moves and stops is sampled and
read again, at most once per :data:`MIN_GAP_S`: its reading equals the last and
merges); one digit in 14 pt text, 3 pixels, waits for the interval.

A frame is sampled when

- the picture changed *and* has settled (its 64x36 copy differs from the one looked
  at just before by at most half of ``scene_threshold``): a slide is read once its
  transition is over, not mid-fade, and a film in constant motion is not sampled
  ten times a second; at most one such sample every
  :data:`MIN_GAP_S` (slides change slower than that; a film in slow motion
  settles between every two looks); or
- ``frame_interval_s`` passed since the last sample, changed or not: a line of text
  typed in small print is too small to see at 256x144, and is read within the
  interval.

A sample remembers when its picture began to change (``since``), so a range of
text starts when the slide appeared, not when it settled, and whether the picture
had changed from the last sample's (``changed``).

Each sampled frame is read by Tesseract (``connectors.ocr``: grey PGM bytes through
a pipe, ``--psm 3``: automatic layout, screens are upright). Frames under
:data:`OCR_MIN_HEIGHT` pixels are read at twice their size: Tesseract wants
letters about 20 px tall, and a 360p recording's text is half that. Consecutive
samples with the same text merge into one range, from when the first appeared to
when the next different text (or the end) came; each range is one element with
``metadata.stream = "screen"``. "The same": equal words (without case, spacing or
punctuation); or, when the picture did not change between them, a :data:`SAME_TEXT`
similarity with the same numbers, which absorbs OCR jitter on a still screen. A
changed picture with nearly the same words is a new slide ("Pros of option A", then
"... option B"), and a changed number is news (a slide counter, a new total), so
neither merges. A small JPEG (:data:`THUMB_WIDTH` px wide, PyAV's mjpeg encoder) is
kept per sampled frame.
"""

from __future__ import annotations

import difflib
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from docframe.connectors import ocr
from docframe.connectors.base import Element
from docframe.connectors.media.options import MediaOptions
from docframe.errors import ConnectorError

EXAMINE_EVERY_S = 0.1  # look at no more than 10 frames a second
FINE_SIZE = (256, 144)  # the grey copy compared pixel by pixel ...
BLOCK = 4  # ... and averaged over 4x4 blocks: the 64x36 copy of scene_threshold
FINE_PIXELS = 12  # more changed pixels than this at 256x144 is a change (a digit at 28 pt)
NOISE_LEVEL = 16  # of 255: a pixel that moved less is compression noise, not a change
SETTLE_FRACTION = 0.5  # settled: changed at most this share of the threshold since the last look
MIN_GAP_S = 1.0  # a change is sampled at least this long after the last sample
OCR_MIN_HEIGHT = 720  # frames shorter than this are read at twice their size
OCR_FRAME_TIMEOUT_S = 60.0  # one frame; the whole file is bounded by options.timeout_s
OCR_DPI = 96  # what a screen is; Tesseract only uses it to guess sizes
THUMB_WIDTH = 320
SAME_TEXT = 0.9  # similarity of normalised texts that counts as the same text


@dataclass
class Reading:
    """One sampled frame: when, since when it looked like this, what it says."""

    t: float
    since: float
    text: str = ""
    confidence: float | None = None
    thumbnail: str | None = None
    changed: bool = True  # the picture differed from the last sample's (False: the interval)


@dataclass
class Screen:
    """What :func:`read_screen` found in a video stream."""

    elements: list[Element]  # the screen ranges, in time order
    readings: list[Reading]  # every sampled frame (their thumbnails serve speech too)
    thumbnails: dict[str, bytes]  # name -> JPEG bytes
    frames: int  # frames decoded
    end_s: float  # where the last decoded frame ends
    decode_s: float  # decoding and comparing (OCR and thumbnails excluded)
    ocr_s: float
    errors: list[str] = field(default_factory=list)  # frames Tesseract failed on
    decode_error: str | None = None  # why decoding stopped early, if it did


class ChangeDetector:
    """Decides which frames to sample from their 256x144 grey copies (see the module doc)."""

    def __init__(self, threshold: float, interval_s: float) -> None:
        self.threshold = threshold
        self.interval_s = interval_s
        self._sampled: Any = None  # (fine, coarse) copies of the last sampled frame
        self._sampled_t = 0.0
        self._previous: Any = None  # coarse copy of the frame looked at before this one
        self._since: float | None = None  # when the picture began to differ from _sampled

    def offer(self, t: float, fine: Any) -> tuple[float, bool] | None:
        """``(since, changed)`` when the frame at ``t`` is to be sampled, or None.

        ``fine`` is the frame's grey copy (a uint8 array, 256x144 when it comes from
        :func:`read_screen`; any size divisible by :data:`BLOCK`). ``changed``: the
        picture differs from the last sample's.
        """
        height, width = fine.shape
        coarse = fine.reshape(height // BLOCK, BLOCK, width // BLOCK, BLOCK).mean(axis=(1, 3))
        small = (fine, coarse.round().astype(fine.dtype))
        previous, self._previous = self._previous, small[1]
        if self._sampled is None:
            return self._take(t, small, t, True)
        changed = (
            difference(small[1], self._sampled[1]) > self.threshold
            or changed_pixels(small[0], self._sampled[0]) > FINE_PIXELS
        )
        if not changed:
            self._since = None  # back to what was sampled (a flash, a cursor passing)
        elif self._since is None:
            self._since = t
        settled = previous is not None and (
            difference(small[1], previous) <= self.threshold * SETTLE_FRACTION
        )
        since = self._since if self._since is not None else t
        if changed and settled and t - self._sampled_t >= MIN_GAP_S:
            return self._take(t, small, since, changed)
        if t - self._sampled_t >= self.interval_s:
            return self._take(t, small, since, changed)
        return None

    def _take(self, t: float, small: Any, since: float, changed: bool) -> tuple[float, bool]:
        self._sampled, self._sampled_t, self._since = small, t, None
        return since, changed


def changed_pixels(a: Any, b: Any) -> int:
    """How many pixels of two same-size uint8 images differ by more than :data:`NOISE_LEVEL`."""
    import numpy as np

    return int(np.count_nonzero(np.abs(a.astype(np.int16) - b.astype(np.int16)) > NOISE_LEVEL))


def difference(a: Any, b: Any) -> float:
    """The share (0-1) of pixels of two same-size uint8 images that differ by more than
    :data:`NOISE_LEVEL`."""
    return changed_pixels(a, b) / max(1, a.size)


def read_screen(
    container: Any,
    stream: Any,
    options: MediaOptions,
    *,
    limit_s: float | None,
    ocr_on: bool,
    start_s: float = 0.0,
    progress: Callable[[float], None] | None = None,
) -> Screen:
    """Decode ``stream`` of an open PyAV ``container`` up to ``limit_s`` and read its text.

    ``start_s`` is subtracted from frame times (the container's start time), so they
    count from 0 like the speech segments; ``progress(t)`` hears where decoding is. A
    decoding error after the first frame
    stops decoding and is returned in ``decode_error`` (the caller decides whether the
    file is cut short); one before any frame is raised.
    """
    import av

    stream.thread_type = "AUTO"
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    frame_s = 1.0 / rate if rate > 0 else 0.04
    detector = ChangeDetector(options.scene_threshold, options.frame_interval_s)
    readings: list[Reading] = []
    thumbnails: dict[str, bytes] = {}
    errors: list[str] = []
    frames, end_s, looked_at = 0, 0.0, -1.0
    ocr_s, decode_error = 0.0, None
    begun = time.perf_counter()
    decoding = container.decode(stream)
    while True:
        try:
            frame = next(decoding)
        except StopIteration:
            break
        except av.error.FFmpegError as exc:
            if frames == 0:
                raise
            decode_error = one_line(exc)
            break
        t = frame.time - start_s if frame.time is not None else frames * frame_s
        if limit_s is not None and t >= limit_s:
            break
        frames += 1
        end_s = max(end_s, t + frame_s)
        if looked_at >= 0 and t - looked_at < EXAMINE_EVERY_S - 1e-6:
            continue
        looked_at = t
        if progress is not None:
            progress(t)
        fine = frame.reformat(width=FINE_SIZE[0], height=FINE_SIZE[1], format="gray")
        sample = detector.offer(t, fine.to_ndarray())
        if sample is None:
            continue
        since, changed = sample
        started = time.perf_counter()
        reading = Reading(t=round(t, 3), since=round(min(since, t), 3), changed=changed)
        if options.thumbnails:
            reading.thumbnail = f"frame-{t:09.3f}.jpg"
            thumbnails[reading.thumbnail] = jpeg(frame, THUMB_WIDTH)
        if ocr_on:
            try:
                reading.text, reading.confidence = frame_text(
                    frame, options.ocr_lang, f"frame at {t:.2f} s"
                )
            except ConnectorError as exc:
                errors.append(exc.message)
        readings.append(reading)
        ocr_s += time.perf_counter() - started
    decode_s = time.perf_counter() - begun - ocr_s
    if limit_s is not None:
        end_s = min(end_s, limit_s)
    return Screen(
        elements=merge_ranges(readings, end_s, options.ocr_lang) if ocr_on else [],
        readings=readings,
        thumbnails=thumbnails,
        frames=frames,
        end_s=round(end_s, 3),
        decode_s=decode_s,
        ocr_s=ocr_s,
        errors=errors,
        decode_error=decode_error,
    )


def frame_text(frame: Any, lang: str, where: str) -> tuple[str, float | None]:
    """The text Tesseract reads on a PyAV video frame, and its mean word confidence.

    Paragraphs that are pictures read as letters are dropped (``ocr.is_noise``);
    the rest are joined by newlines in Tesseract's reading order.
    """
    scale = 2 if frame.height < OCR_MIN_HEIGHT else 1
    gray = frame.reformat(
        width=frame.width * scale,
        height=frame.height * scale,
        format="gray",
        interpolation="BICUBIC",
    ).to_ndarray()
    words = ocr.tesseract_words(
        ocr.pgm(gray),
        lang,
        OCR_DPI * scale,
        "3",
        OCR_FRAME_TIMEOUT_S,
        where,
        timeout_help="set --screen-ocr off for this file, or raise the media timeout",
    )
    texts, kept = [], []
    for para in ocr.paragraphs(words):
        text = ocr.paragraph_text(para)
        confidence = statistics.fmean(w["conf"] for w in para)
        if not ocr.is_noise(text, len(para), confidence):
            texts.append(text)
            kept.extend(w["conf"] for w in para)
    return "\n".join(texts), (round(statistics.fmean(kept), 1) if kept else None)


def jpeg(frame: Any, width: int) -> bytes:
    """A small JPEG of a PyAV video frame, ``width`` px wide (aspect kept, even height)."""
    import av

    height = max(2, round(frame.height * width / frame.width / 2) * 2)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.options = {"qmin": "2", "qmax": "8"}  # good enough to recognise, ~10 KB
    small = frame.reformat(width=width, height=height, format="yuvj420p")
    packets = list(encoder.encode(small)) + list(encoder.encode(None))
    return b"".join(bytes(p) for p in packets)


def normalised(text: str) -> str:
    """Words only, lower case: how two readings of the same screen are compared."""
    return " ".join(re.findall(r"\w+", text.lower()))


def same_text(a: str, b: str) -> bool:
    """True when two readings of a still screen say the same thing: equal words, or
    nearly (OCR jitter: :data:`SAME_TEXT`) with the same numbers."""
    na, nb = normalised(a), normalised(b)
    if na == nb:
        return True
    if not na or not nb or re.findall(r"\d+", na) != re.findall(r"\d+", nb):
        return False
    return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio() >= SAME_TEXT


def continues(first: Reading, reading: Reading) -> bool:
    """True when ``reading`` shows the same text as the range that ``first`` began: equal
    words, or ``same_text`` if the picture did not change (see the module docstring)."""
    if reading.changed:
        return normalised(first.text) == normalised(reading.text)
    return same_text(first.text, reading.text)


def merge_ranges(readings: list[Reading], end_s: float, lang: str = "eng") -> list[Element]:
    """Consecutive readings with the same text as one element each, in time order.

    A range starts when its first reading's picture appeared (``since``) and ends
    when the next reading with other text (or no text) appeared, or at ``end_s``.
    Its text, frame and thumbnail are those of its most confident reading.
    """
    groups: list[list[Reading]] = []
    for reading in readings:
        if groups and continues(groups[-1][0], reading):
            groups[-1].append(reading)
        else:
            groups.append([reading])
    elements = []
    for i, group in enumerate(groups):
        if not normalised(group[0].text):
            continue
        best = max(group, key=lambda r: (r.confidence or 0.0, -r.t))
        stop = groups[i + 1][0].since if i + 1 < len(groups) else end_s
        meta: dict[str, Any] = {
            "stream": "screen",
            "frame_s": best.t,
            "confidence": best.confidence,
            "lang": lang,
            "frames": len(group),
        }
        if best.thumbnail:
            meta["thumbnail"] = best.thumbnail
        start = group[0].since
        elements.append(
            Element(text=best.text, start_s=start, end_s=max(start, round(stop, 3)), metadata=meta)
        )
    return elements


def one_line(exc: BaseException) -> str:
    """An exception as one short line (FFmpeg's messages can name the whole path)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
