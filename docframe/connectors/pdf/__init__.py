"""PDF connector: text with page and bbox provenance, tables, OCR, hostile-file safety.

Importing this package is cheap: PyMuPDF and pypdf load in the isolated worker
process that reads each file (see ``extract`` and ``sandbox``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from docframe.connectors.base import Document
from docframe.connectors.pdf.options import PdfOptions

__all__ = ["PdfConnector", "PdfOptions"]


class PdfConnector:
    """One Document per PDF; see ``docframe.connectors.pdf.extract`` for the details."""

    name = "pdf"
    modality = "pdf"
    kind = "documents"
    suffixes = (".pdf",)

    def __init__(self, options: PdfOptions | None = None) -> None:
        self.options = options if options is not None else PdfOptions()

    def configured(self, options: PdfOptions) -> PdfConnector:
        """A copy of this connector that reads with ``options`` (ingest calls this)."""
        return type(self)(replace(options))

    def extract(self, path: Path) -> Iterator[Document]:
        from docframe.connectors.pdf.extract import extract_document
        from docframe.connectors.sources import refuse_other_format

        refuse_other_format(Path(path), "a PDF document", (".pdf",))  # a WAV named .pdf
        document = extract_document(Path(path), self.options)
        if not document.title:
            document.title = Path(path).stem
        yield document
