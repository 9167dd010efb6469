"""Options for reading audio and video, set per ingest (CLI: --asr-model, --language,
--media-max-seconds, ...). Frozen: a connector configured with them is safe to share
between the ingest's threads and to send to a worker process."""

from __future__ import annotations

from dataclasses import dataclass

from docframe.errors import ConnectorError

SCREEN_OCR_MODES = ("auto", "off")


@dataclass(frozen=True)
class MediaOptions:
    asr_model: str = "base"  # "base" (multilingual, default), "tiny.en", or a CTranslate2 folder
    language: str | None = None  # ISO code ("en", "de"...); None: detected per file
    max_seconds: float | None = None  # media longer than this is cut (with a note)
    device: str = "auto"  # auto: cuda when the engine is gpu, else cpu
    compute_type: str | None = None  # None: float16 on cuda, int8 on cpu
    timeout_s: float = 3600.0  # per file, in the worker process
    memory_mb: int = 4096  # address-space limit of the worker process
    screen_ocr: str = "auto"  # video: OCR sampled frames when Tesseract exists | off
    ocr_lang: str = "eng"  # Tesseract language(s) for on-screen text
    frame_interval_s: float = 10.0  # video: sample at least this often, changes or not
    # video: share (0-1) of a 64x36 grey copy's pixels that must change (by > 1/16) to count
    # as a change: a new line of 14 pt text on a 720p slide is 0.006, a moving cursor 0.003
    scene_threshold: float = 0.004
    thumbnails: bool = True  # video: keep a small JPEG per sampled frame in the lake

    def __post_init__(self) -> None:
        if self.screen_ocr not in SCREEN_OCR_MODES:
            raise ConnectorError(
                f"--screen-ocr {self.screen_ocr!r} is not one of {', '.join(SCREEN_OCR_MODES)}",
                help="--screen-ocr auto reads text on screen when Tesseract exists; off skips it",
            )
        if not self.timeout_s > 0:
            raise ConnectorError(
                f"--media-timeout must be a positive number of seconds, got {self.timeout_s}",
                help="e.g. --media-timeout 3600 (the default)",
            )
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ConnectorError(
                f"--media-max-seconds must be a positive number of seconds, got {self.max_seconds}",
                help="e.g. --media-max-seconds 600, or leave it out to read whole files",
            )
