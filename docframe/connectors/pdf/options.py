"""Options for reading PDFs, set per ingest (CLI: --pdf-password, --ocr-lang, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from docframe.errors import ConnectorError

OCR_MODES = ("auto", "off", "force")
MIN_MEMORY_MB = 768  # the worker's libraries alone take ~400 MB of address space


@dataclass(frozen=True)
class PdfOptions:
    password: str | None = None  # tried for every encrypted file
    passwords: dict[str, str] = field(default_factory=dict)  # file name or path -> password
    ocr: str = "auto"  # auto: OCR pages with no text layer when Tesseract exists | off | force
    ocr_lang: str = "eng"  # Tesseract language(s), e.g. "eng+fra"
    timeout_s: float = 120.0  # per file, in the worker process
    memory_mb: int = 2048  # address-space limit of the worker process
    page_window: int = 32  # pages held in memory at once
    tables: bool = True  # extract tables found on pages as lake tables

    def __post_init__(self) -> None:
        if self.ocr not in OCR_MODES:
            raise ConnectorError(
                f"--ocr {self.ocr!r} is not one of {', '.join(OCR_MODES)}",
                help="auto OCRs pages without a text layer when Tesseract exists; off; force",
            )
        if not self.timeout_s > 0:
            raise ConnectorError(
                f"--pdf-timeout must be a positive number of seconds, got {self.timeout_s}",
                help="e.g. --pdf-timeout 120 (the default)",
            )
        if self.memory_mb < MIN_MEMORY_MB:
            raise ConnectorError(
                f"--pdf-memory-mb {self.memory_mb} is below {MIN_MEMORY_MB}",
                help=f"the PDF worker's libraries alone take ~400 MB; give {MIN_MEMORY_MB} or more",
            )

    def password_for(self, path: str) -> str | None:
        p = Path(path)
        return self.passwords.get(str(p)) or self.passwords.get(p.name) or self.password
