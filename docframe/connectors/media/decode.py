"""Media files in, facts and 16 kHz float32 samples out, through PyAV (FFmpeg's libraries).

- :func:`probe` reads only the headers: duration, container, the audio stream's codec,
  channels and sample rate, and for video the frame size and rate. Cover art in an
  ``.mp3``/``.m4a`` is a picture stream, not video. It becomes the document metadata,
  and tells a ``.webm`` of music from a ``.webm`` film (see the connectors' ``accepts``).
- :func:`decode` turns the first audio stream into what Whisper reads: 16 kHz, float32,
  resampled by FFmpeg's own resampler (``av.AudioResampler``); mono, or the two channels
  apart when the caller may transcribe them separately. ``max_seconds`` stops decoding
  there and says so in ``note``.

Bad input is a one-line :class:`ConnectorError` naming the file: empty, not media (a
text file renamed ``.mp3``), no audio stream (a video-only file), undecodable data, or
cut short (a download that stopped: fewer seconds decoded than the header declares).
Run both in the isolated worker: FFmpeg parses hostile bytes in C.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe.errors import ConnectorError

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 16_000  # what Whisper's feature extractor expects
# decoding must reach this share of the declared duration (minus a second of slack for
# estimates): a shorter result means the file was cut short
TRUNCATED_SHARE = 0.9
CORRUPT_HELP = "the file is damaged; re-encode it (e.g. ffmpeg -i IN -c:a flac OUT.flac)"


@dataclass(frozen=True)
class MediaInfo:
    """A media file's headers, as recorded in the document metadata."""

    container: str  # FFmpeg's format name, e.g. "wav", "ogg", "matroska,webm"
    duration_s: float | None  # declared by the headers; None when they do not say
    has_audio: bool
    has_video: bool  # a moving picture (cover art does not count)
    codec: str | None = None  # of the first audio stream
    channels: int | None = None
    sample_rate: int | None = None
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None

    def as_metadata(self) -> dict[str, Any]:
        """The facts worth a column in ``documents.metadata`` (no Nones)."""
        keys = ("duration_s", "container", "codec", "channels", "sample_rate")
        if self.has_video:
            keys += ("video_codec", "width", "height", "fps")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


@dataclass
class Decoded:
    """Samples at :data:`SAMPLE_RATE`, shape (channels, n): one row, or two (left, right)."""

    samples: np.ndarray
    note: str | None = None  # set when ``max_seconds`` cut the media

    @property
    def seconds(self) -> float:
        return self.samples.shape[1] / SAMPLE_RATE


def _open(path: Path, label: str) -> Any:
    import av

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConnectorError(
            f"{label}: cannot read: {exc.strerror or exc}", help="check the path and permissions"
        ) from None
    if size == 0:
        raise ConnectorError(f"{label}: empty file (0 bytes)", help="remove it or copy it again")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise ConnectorError(
            f"{label}: not a media file FFmpeg can read ({_reason(exc)})",
            help="check that the file is really audio or video, with its right extension",
        ) from None


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())


def _is_picture(stream: Any) -> bool:
    import av.stream

    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _declared_seconds(container: Any, stream: Any | None) -> float | None:
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def probe(path: Path, *, label: str | None = None) -> MediaInfo:
    """The headers of ``path`` (decodes nothing)."""
    path = Path(path)
    label = label or str(path)
    container = _open(path, label)
    with container:
        audio = container.streams.audio[0] if container.streams.audio else None
        videos = [s for s in container.streams.video if not _is_picture(s)]
        video = videos[0] if videos else None
        info: dict[str, Any] = {
            "container": container.format.name,
            "duration_s": _round(_declared_seconds(container, audio)),
            "has_audio": audio is not None,
            "has_video": video is not None,
        }
        if audio is not None:
            ctx = audio.codec_context
            info.update(codec=ctx.name, channels=ctx.channels, sample_rate=ctx.sample_rate)
        if video is not None:
            rate = video.average_rate or video.guessed_rate
            info.update(
                video_codec=video.codec_context.name,
                width=video.codec_context.width,
                height=video.codec_context.height,
                fps=round(float(rate), 3) if rate else None,
            )
            if info["duration_s"] is None:
                info["duration_s"] = _round(_declared_seconds(container, video))
    return MediaInfo(**info)


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def decode(
    path: Path,
    *,
    label: str | None = None,
    max_seconds: float | None = None,
    stereo: bool = False,
) -> Decoded:
    """The first audio stream of ``path`` at 16 kHz float32.

    ``stereo=True`` keeps a two-channel stream's channels apart (shape (2, n)); any
    other stream, and every stream when ``stereo`` is False, is mixed down to one row.
    """
    import av
    import numpy as np

    path = Path(path)
    label = label or str(path)
    container = _open(path, label)
    with container:
        if not container.streams.audio:
            what = "video only" if container.streams.video else "no audio or video"
            raise ConnectorError(
                f"{label}: no audio stream ({what})",
                help="nothing to transcribe; remove the file or give it its audio track",
            )
        stream = container.streams.audio[0]
        split = stereo and stream.codec_context.channels == 2
        resampler = av.AudioResampler(
            format="fltp", layout="stereo" if split else "mono", rate=SAMPLE_RATE
        )
        limit = None if max_seconds is None else int(round(max_seconds * SAMPLE_RATE))
        blocks: list[np.ndarray] = []
        have = 0
        stopped = False  # at ``limit``, with more to come
        at_s = 0.0  # where decoding was, for the error message
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    if frame.time is not None:
                        at_s = frame.time
                    for out in resampler.resample(frame):
                        blocks.append(out.to_ndarray())
                        have += out.samples
                if limit is not None and have >= limit:
                    stopped = True
                    break
            for out in resampler.resample(None):  # what the resampler still holds
                blocks.append(out.to_ndarray())
                have += out.samples
        except av.error.FFmpegError as exc:
            raise ConnectorError(
                f"{label}: corrupt audio at {at_s:.1f} s ({_reason(exc)})", help=CORRUPT_HELP
            ) from None
        channels = 2 if split else 1
        samples = np.concatenate(blocks, axis=1) if blocks else np.zeros((channels, 0), np.float32)
        declared = _declared_seconds(container, stream)
    seconds = samples.shape[1] / SAMPLE_RATE
    note = None
    if limit is not None and (stopped or samples.shape[1] > limit):
        samples = np.ascontiguousarray(samples[:, :limit])
        total = f"{declared:.1f}" if declared else f"more than {seconds:.1f}"
        note = f"cut at {max_seconds:g} s of {total} s (--media-max-seconds)"
    elif declared and seconds < TRUNCATED_SHARE * declared - 1.0:
        raise ConnectorError(
            f"{label}: truncated: {seconds:.1f} s of audio decoded, the header declares "
            f"{declared:.1f} s",
            help="the file was cut short (an interrupted copy or download); fetch it again",
        )
    if samples.shape[1] == 0:
        raise ConnectorError(
            f"{label}: the audio stream holds no samples", help="nothing to transcribe"
        )
    return Decoded(samples, note)
