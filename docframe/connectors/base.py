"""The connector contract: a source file in, documents made of located elements out.

An *element* is a piece of text with its location in the source (page and bbox
for PDFs, start/end seconds for media, character offsets for text). Connectors
normalise whatever their parser gives into these, so the chunker and the lake
cannot tell which parser ran. Heavy parser imports stay inside ``extract``.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from docframe.errors import ConnectorError


@dataclass
class Element:
    text: str
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    start_s: float | None = None
    end_s: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # PDF workers send documents back by the thousand elements: a tuple pickles
        # and unpickles in half the time of the default __dict__ state
        return Element, (self.text, self.page, self.bbox, self.start_s, self.end_s, self.metadata)


@dataclass
class Document:
    doc_key: str
    elements: list[Element]
    title: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # tables found inside the document (PDF): each becomes a lake table; its
    # ``origin`` and ``location`` say where (page, bbox) for the pdf_tables relation
    tables: list[Any] = field(default_factory=list)  # list[TableData]
    parser: str | None = None  # which parser produced the elements (pymupdf | pypdf | ocr)
    # derived files kept beside the rows (a video's frame thumbnails): name -> bytes; the
    # ingest writes them into the lake and element metadata names them (``thumbnail``)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    # a document inside an archive: its own ``ARCHIVE!/MEMBER`` address and modality (a
    # PDF in a .zip), where the source's connector cannot say them; None: the source's
    source_uri: str | None = None
    modality: str | None = None


class Connector(Protocol):
    name: str
    modality: str
    suffixes: tuple[str, ...]  # lower-case, with the dot; may be compound (".jsonl.gz")

    def extract(self, path: Path) -> Iterator[Document]:
        """Yield the documents in ``path``; raise ConnectorError naming the problem."""


TEXT_SNIFF_BYTES = 8192
READ_BLOCK = 1 << 20


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, refusing binary, undecodable and empty input clearly.

    The file is decoded a block at a time and every block is checked for NUL bytes
    before it is kept: a disk image or sparse file named ``.txt`` (gigabytes of
    zeros) is refused after its first 8 KiB instead of being read whole into memory,
    and a large text file holds at most one block of its bytes (the decoded pieces are
    joined once at the end, so the text itself is briefly there twice).
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    parts: list[str] = []
    with open(path, "rb") as fh:
        block = fh.read(TEXT_SNIFF_BYTES)  # a small first read: binary files end here
        offset = 0  # of ``block`` in the file
        if block.startswith(codecs.BOM_UTF8):
            block, offset = block[len(codecs.BOM_UTF8) :], len(codecs.BOM_UTF8)
        first = block
        while True:
            nul = block.find(b"\x00")
            if nul >= 0:
                _refuse_other_format(path, first)
                raise ConnectorError(
                    f"{path}: binary content (a NUL byte at offset {offset + nul}) in a "
                    f"{path.suffix or 'text'} file",
                    help="this is not a text file; remove it or give it its real extension",
                )
            held = len(decoder.getstate()[0])  # bytes of a character cut by the last block
            try:
                parts.append(decoder.decode(block, final=not block))
            except UnicodeDecodeError as exc:
                _refuse_other_format(path, first)
                raise ConnectorError(
                    f"{path}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset "
                    f"{offset - held + exc.start})",
                    help=f"re-encode it as UTF-8, e.g. iconv -f latin1 -t utf-8 '{path}'",
                ) from None
            if not block:
                break
            offset += len(block)
            block = fh.read(READ_BLOCK)
    text = "".join(parts)
    del parts
    if not text.strip():
        raise ConnectorError(
            f"{path}: empty file, nothing to index", help="add content or remove it"
        )
    return text


def _refuse_other_format(path: Path, head: bytes) -> None:
    """A text file that is not text: when its first bytes say what it is (a PDF named
    ``.txt``), the error says so and names the suffix to give it, as the table
    connectors do; the suffix still decides the connector (``docframe.connectors``)."""
    from docframe.connectors.sources import binary_format, mislabeled

    found = binary_format(head)
    if found is not None:
        raise mislabeled(path, head, "a text file", found)
