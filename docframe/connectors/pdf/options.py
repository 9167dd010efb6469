"""Options for reading PDFs, set per ingest (CLI: --pdf-password, --ocr-lang, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field


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

    def password_for(self, path: str) -> str | None:
        from pathlib import Path

        p = Path(path)
        return self.passwords.get(str(p)) or self.passwords.get(p.name) or self.password
