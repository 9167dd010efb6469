"""Audio and video connectors: speech and on-screen text as time-coded documents.

Importing this package is cheap: PyAV and faster-whisper load in the isolated worker
process that reads each file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from docframe.connectors.base import Document
from docframe.connectors.media.options import MediaOptions

__all__ = ["AudioConnector", "MediaOptions", "VideoConnector"]

# containers that hold sound or film: the audio connector takes them only without a picture
_AUDIO_OR_VIDEO = (".webm", ".mka")
# what docframe.connectors.content names media as: the media connectors' own content
_OWN = (".wav", ".avi", ".mp3", ".aac", ".flac", ".ogg", ".webm", ".m4a", ".mov", ".mp4")
_EXPECTED = "an audio or video file"


class AudioConnector:
    """One Document per audio file: Whisper's segments, time-coded; see ``media.audio``."""

    name = "audio"
    modality = "audio"
    kind = "documents"
    suffixes = (".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma",
                ".aiff", ".aif", *_AUDIO_OR_VIDEO)  # fmt: skip

    def __init__(self, options: MediaOptions | None = None) -> None:
        self.options = options if options is not None else MediaOptions()
        # (uri, media seconds done, total): set by the ingest for its progress display
        self.progress: Callable[[str, float, float], None] | None = None

    def configured(self, options: MediaOptions) -> AudioConnector:
        """A copy of this connector that reads with ``options`` (ingest calls this)."""
        return type(self)(replace(options))

    def accepts(self, path: Path) -> bool:
        """Every file of an audio suffix; a ``.webm``/``.mka`` only when it holds sound and
        no moving picture (probed in an isolated worker): films go to the video connector."""
        if not Path(path).name.lower().endswith(_AUDIO_OR_VIDEO):
            return True
        from docframe.connectors.media.audio import holds_audio_only

        return holds_audio_only(Path(path), self.options)

    def extract(self, path: Path) -> Iterator[Document]:
        from docframe.connectors.media.audio import extract_audio
        from docframe.connectors.sources import refuse_other_format

        refuse_other_format(Path(path), _EXPECTED, _OWN)  # a PDF named .mp3
        yield extract_audio(Path(path), self.options, progress=self.progress)


class VideoConnector:
    """One Document per video: speech and on-screen text, time-coded; see ``media.video``."""

    name = "video"
    modality = "video"
    kind = "documents"
    suffixes = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v")

    def __init__(self, options: MediaOptions | None = None) -> None:
        self.options = options if options is not None else MediaOptions()
        # (uri, media seconds done, total): set by the ingest for its progress display
        self.progress: Callable[[str, float, float], None] | None = None

    def configured(self, options: MediaOptions) -> VideoConnector:
        """A copy of this connector that reads with ``options`` (ingest calls this)."""
        return type(self)(replace(options))

    def accepts(self, path: Path) -> bool:
        """False for a file with no moving picture (a ``.webm`` of music): the audio
        connector reads it. Probed in an isolated worker; unreadable files count as video."""
        from docframe.connectors.media.video import has_video

        return has_video(Path(path), self.options)

    def extract(self, path: Path) -> Iterator[Document]:
        from docframe.connectors.media.video import extract_video
        from docframe.connectors.sources import refuse_other_format

        refuse_other_format(Path(path), _EXPECTED, _OWN)  # a PDF named .mp4
        yield extract_video(Path(path), self.options, progress=self.progress)
