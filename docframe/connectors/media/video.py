"""A video file in, one Document of time-coded speech and on-screen text out.

``extract_video`` (called in the ingesting process) resolves the speech model once,
then runs :func:`worker` in an isolated child process (``docframe.isolation``, with
the media options' ``timeout_s`` and ``memory_mb``): FFmpeg parses hostile bytes in
C, Whisper and Tesseract can run long, and a file that hangs or bloats ends as one
recorded error while the batch goes on. In the child:

1. ``decode.probe`` reads the headers (duration, codecs, channels, frame size). A
   file with no moving picture (an audio file renamed ``.mp4``, an ``.mp4`` holding
   only a podcast) is refused with a hint to give it its audio suffix: the audio
   connector reads ``.m4a``; a video-named file that is only sound is more likely a
   mistake than a video, and the user's fix is a rename. A ``.webm`` of music never
   gets here: :meth:`VideoConnector.accepts` declines it so the audio connector reads
   it (``.webm`` is both).
2. ``frames.read_screen`` decodes every frame, samples where the picture changed or
   ``frame_interval_s`` passed, OCRs the samples and merges equal texts into ranges
   (``metadata.stream = "screen"``), keeping a JPEG thumbnail per sample in
   ``Document.artifacts``. A stream that gives no frame is "no decodable video"; one
   that ends well before its declared duration is "truncated" (an interrupted copy).
3. The audio track, if any, is decoded to 16 kHz (``decode.decode``) and goes
   through the audio connector's ``speech`` (one speaker per channel read apart, as
   for an audio file): each Whisper segment is an element with ``metadata.stream =
   "speech"``, its word times, and the thumbnail of the frame on screen when it
   began. No audio track, or no text on screen, is fine: fewer elements, no error.

``max_seconds`` cuts both streams at the same point, with a ``note``; so does screen
OCR that is off or unavailable (never silent). Elements are in start-time order.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docframe.connectors.base import Document, Element
from docframe.connectors.media.audio import PRELOAD as AUDIO_PRELOAD
from docframe.connectors.media.options import MediaOptions
from docframe.errors import ConnectorError, DocframeError

# the audio connector's: workers are pooled by their preload, so audio and video files
# share workers and a worker loads the speech model once for both (this module and
# frames are small, imported by a worker on its first video)
PRELOAD = AUDIO_PRELOAD
PROBE_TIMEOUT_S = 30.0
# the picture must reach this share of its declared duration (less a second of slack
# for estimated durations), as decode.TRUNCATED_SHARE asks of the sound
TRUNCATED_SHARE = 0.9
NO_VIDEO_HELP = "it holds only sound: give it its audio suffix (e.g. .m4a) to ingest it as audio"
CORRUPT_HELP = "the file is damaged; re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)"


def extract_video(
    path: Path,
    options: MediaOptions,
    *,
    progress: Callable[[str, float, float], None] | None = None,
) -> Document:
    """Read one video in an isolated worker: a Document, or a one-line ConnectorError.

    ``progress(uri, seconds done, total)`` is called while the worker runs (the
    screen pass and the transcription each count for half of every second).
    """
    from docframe.connectors.media.progress import ProgressRelay
    from docframe.isolation import run_isolated

    label = str(path)
    model, runtime, problem = _speech_model(options)
    # CUDA reserves far more address space than any limit we would set: on the GPU the
    # worker keeps its time limit only (as the audio connector does)
    on_cuda = runtime is not None and runtime.device == "cuda"
    memory_mb = None if on_cuda else options.memory_mb
    with ProgressRelay(label, progress) as relay:
        return run_isolated(
            worker, str(Path(path).absolute()), label, path.name, options, model, runtime,
            problem, relay.path,
            timeout_s=options.timeout_s, memory_mb=memory_mb, label=label,
            preload=PRELOAD,
        )  # fmt: skip


def has_video(path: Path, options: MediaOptions) -> bool:
    """True unless ``path`` surely holds no moving picture (probed in an isolated worker).

    A file that cannot be probed counts as video: the connector that reads it then
    reports why, once, as its error.
    """
    from docframe.isolation import run_isolated

    try:
        return run_isolated(
            _probe_has_video, str(Path(path).absolute()), str(path),
            timeout_s=PROBE_TIMEOUT_S, memory_mb=options.memory_mb, label=str(path),
            preload=PRELOAD,
        )  # fmt: skip
    except DocframeError:
        return True


def _probe_has_video(path: str, label: str) -> bool:
    from docframe.connectors.media.decode import probe

    try:
        return probe(Path(path), label=label).has_video
    except ConnectorError:
        return True


def _speech_model(options: MediaOptions) -> tuple[Any, Any, DocframeError | None]:
    """The model and runtime, resolved here once (the base model is joined and checked
    once, not per worker); a problem is kept for the worker to raise only when the
    video has sound to transcribe."""
    from docframe.connectors.media import models

    try:
        return (
            models.resolve(options.asr_model),
            models.runtime(options.device, options.compute_type),
            None,
        )
    except DocframeError as exc:
        return None, None, exc


# ------------------------------------------------------------------ in the worker


def worker(
    path: str,
    label: str,
    doc_key: str,
    options: MediaOptions,
    model: Any,
    runtime: Any,
    problem: DocframeError | None,
    progress_path: str | None = None,
) -> Document:
    """Runs in the isolated child: probe, screen, speech (see the module docstring)."""
    from docframe.connectors.media.decode import probe

    file = Path(path)
    info = probe(file, label=label)
    if not info.has_video:
        raise ConnectorError(f"{label}: no video stream (audio only)", help=NO_VIDEO_HELP)
    if info.has_audio and problem is not None:
        raise problem  # no speech model: say so before the screen pass, not after
    limit = options.max_seconds
    progress = _Progress(progress_path, passes=2 if info.has_audio else 1)
    notes: list[str] = []
    seconds = {"decode": 0.0, "transcribe": 0.0, "ocr": 0.0}
    meta: dict[str, Any] = info.as_metadata()

    ocr_on, ocr_state = _screen_ocr(options)
    meta["screen_ocr"] = ocr_state
    if not ocr_on:
        notes.append(f"screen text not read: {ocr_state}")
    screen, declared = _read_screen(file, label, options, limit, ocr_on, progress)
    duration = max(info.duration_s or 0.0, declared or 0.0) or None  # the longer stream's
    if duration is not None:
        meta["duration_s"] = round(duration, 3)
    seconds["decode"] += screen.decode_s
    seconds["ocr"] += screen.ocr_s
    meta["frames_decoded"] = screen.frames
    meta["frames_sampled"] = len(screen.readings)
    if screen.errors:
        meta["ocr_errors"] = screen.errors

    speech: list[Element] = []
    if info.has_audio:
        found, decode_s, cut = _speech(
            file, label, options, (model, runtime), limit, info.channels, progress
        )
        speech = found.elements
        seconds["decode"] += decode_s
        seconds["transcribe"] += found.seconds
        meta.update(found.metadata)
        notes.extend(n for n in (cut, found.note) if n)
    else:
        meta["audio"] = "none"
    if limit is not None and duration is not None and duration > limit:
        notes = [n for n in notes if not n.startswith("cut at")]  # the sound's, if shorter
        notes.append(f"cut at {limit:g} s of {duration:.1f} s (--media-max-seconds)")

    frame_times = [r.t for r in screen.readings]
    for element in speech:  # what was on screen as the words began
        at = bisect.bisect_right(frame_times, element.start_s or 0.0) - 1
        if at >= 0 and screen.readings[at].thumbnail:
            element.metadata["thumbnail"] = screen.readings[at].thumbnail
    elements = sorted(
        speech + screen.elements,
        key=lambda e: (
            e.start_s or 0.0,
            e.metadata["stream"] != "speech",
            e.metadata.get("channel") or 0,
            e.end_s or 0.0,
        ),
    )
    meta["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    if notes:
        meta["note"] = "; ".join(dict.fromkeys(notes))
    return Document(
        doc_key=doc_key,
        elements=elements,
        title=file.stem,
        metadata=meta,
        parser="pyav+faster-whisper+tesseract" if ocr_on else "pyav+faster-whisper",
        artifacts=screen.thumbnails,
    )


class _Progress:
    """The worker's seconds done: the screen pass and the transcription each count for
    half of every second of a video with sound."""

    def __init__(self, path: str | None, passes: int) -> None:
        from docframe.connectors.media.progress import reporter

        self.report = reporter(path)
        self.share = 1.0 / passes
        self.total = 0.0  # seconds the passes will cover, set once the stream is open

    def screen(self, t: float) -> None:
        if self.report is not None:
            self.report(min(t, self.total) * self.share, self.total)

    def speech(self, done: float, _of: float) -> None:
        if self.report is not None:
            self.report(
                self.total * (1 - self.share) + min(done, self.total) * self.share, self.total
            )


def _screen_ocr(options: MediaOptions) -> tuple[bool, str]:
    """Whether frames are read, and what says so in the metadata (or why not)."""
    from docframe.connectors import ocr

    if options.screen_ocr == "off":
        return False, "off (--screen-ocr off)"
    reason = ocr.missing_reason(options.ocr_lang)
    if reason:
        return False, f"unavailable: {reason}"
    return True, f"tesseract {ocr.version() or '?'} ({options.ocr_lang})"


def _read_screen(
    file: Path,
    label: str,
    options: MediaOptions,
    limit: float | None,
    ocr_on: bool,
    progress: _Progress,
) -> tuple[Any, float | None]:
    """The screen pass (``frames.read_screen``) and the video stream's declared seconds."""
    import av

    from docframe.connectors.media.frames import one_line, read_screen

    try:
        container = av.open(str(file), metadata_errors="ignore")
    except av.error.FFmpegError as exc:  # probe opened it: rare, but a race or a bad disk
        raise ConnectorError(f"{label}: cannot open: {one_line(exc)}", help=CORRUPT_HELP) from None
    with container:
        stream = _moving_picture(container)
        codec = stream.codec_context.name
        start_s = (container.start_time or 0) / 1_000_000  # AV_TIME_BASE
        declared = _declared_seconds(container, stream)
        progress.total = min(declared or 0.0, limit or float("inf"))
        try:
            screen = read_screen(
                container,
                stream,
                options,
                limit_s=limit,
                ocr_on=ocr_on,
                start_s=start_s,
                progress=progress.screen,
            )
        except av.error.FFmpegError as exc:
            raise ConnectorError(
                f"{label}: no decodable video: the {codec} stream failed at its first frame "
                f"({one_line(exc)})",
                help=CORRUPT_HELP,
            ) from None
    if screen.frames == 0:
        raise ConnectorError(
            f"{label}: no decodable video: the {codec} stream gave no frame", help=CORRUPT_HELP
        )
    expected = declared if limit is None or declared is None else min(declared, limit)
    if expected and screen.end_s < TRUNCATED_SHARE * expected - 1.0:
        why = f" ({screen.decode_error})" if screen.decode_error else ""
        raise ConnectorError(
            f"{label}: truncated: {screen.end_s:.1f} s of video decoded, the header declares "
            f"{declared:.1f} s{why}",
            help="the file was cut short (an interrupted copy or download); fetch it again",
        )
    return screen, declared


def _moving_picture(container: Any) -> Any:
    import av.stream

    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise AssertionError("probe said the file has video")  # pragma: no cover


def _declared_seconds(container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _speech(
    file: Path,
    label: str,
    options: MediaOptions,
    speech_model: tuple[Any, Any],
    limit: float | None,
    channels: int | None,
    progress: _Progress,
) -> tuple[Any, float, str | None]:
    """The sound track through the audio connector's ``speech`` (one or two channels,
    ``speech`` elements with word times), the seconds its decoding took, and the note
    of a cut at ``limit``."""
    from docframe.connectors.media.audio import speech
    from docframe.connectors.media.decode import decode

    begun = time.perf_counter()
    decoded = decode(file, label=label, max_seconds=limit, stereo=channels == 2)
    decode_s = time.perf_counter() - begun
    model, runtime = speech_model
    found = speech(decoded, options, model=model, runtime=runtime, progress=progress.speech)
    return found, decode_s, decoded.note
