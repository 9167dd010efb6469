"""ZIP archives and gzip/zstd-compressed files, read as what they hold.

- ``flights.csv.zip`` (every member a table file) is a *table archive*: each member
  becomes a lake table named after the member (``flights``), its ``origin`` the member's
  path; CSV and JSON members are streamed out of the archive, never unpacked whole.
- Any other ``.zip`` is a *document archive*: each member a connector reads is ingested
  as a document whose ``source_uri`` is ``ARCHIVE!/MEMBER`` and whose ``doc_key`` is the
  member's path (``docframe.connectors.unpack`` on the addressing). Members of no type
  docframe reads, nested archives, and table files beside documents are left out with a
  note; a member that fails is noted and the others are read; the archive fails only
  when no member could be read.
- ``report.pdf.gz``, ``notes.txt.zst``: the one file inside, read by the connector of its
  inner name (or recognised by content). ``.csv.gz``, ``.json.zst``... stream through
  the table connectors themselves (``docframe.connectors.sources.open_source``).

The archive or compressed file is the *source*: it is what is hashed and compared, so an
unchanged archive is skipped whole, a changed one is read again (unchanged member texts
reuse their vectors), and ``--prune`` drops it when it is deleted. Limits against zip
bombs and hostile names are in ``docframe.connectors.unpack``.

This module cannot import the registry (``docframe.connectors``), which imports it: the
registry hands each archive connector its chooser (``choose``) instead.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from docframe.connectors.base import Document
from docframe.connectors.content import HEAD_BYTES, Chosen
from docframe.connectors.media.options import MediaOptions
from docframe.connectors.pdf.options import PdfOptions
from docframe.connectors.tables import TableData, TableOptions, table_name
from docframe.connectors.unpack import (
    NESTED,
    Listing,
    Member,
    codec_of,
    list_zip,
    member_path,
    open_compressed,
    open_member,
    reading,
    relabel,
    scratch,
    unpacked,
)
from docframe.errors import ConnectorError, DocframeError

Chooser = Callable[..., Chosen]  # docframe.connectors.choose_connector(path, probe=...)

# members a table connector streams out of the archive (they read through open_source)
STREAMED = (".csv", ".tsv", ".tab", ".json", ".jsonl", ".ndjson")
_MEDIA = ("audio", "video")


@dataclasses.dataclass(frozen=True)
class Options:
    """What an ingest reads its inputs with; an archive passes them on to its members."""

    pdf: PdfOptions = dataclasses.field(default_factory=PdfOptions)
    media: MediaOptions = dataclasses.field(default_factory=MediaOptions)
    tables: TableOptions = dataclasses.field(default_factory=TableOptions)


def configure(connector: Any, options: Options) -> Any:
    """``connector`` set up with ``options``, as the ingest sets up a file's connector."""
    if hasattr(connector, "with_options"):
        return connector.with_options(options)
    if hasattr(connector, "configured"):
        media = getattr(connector, "modality", None) in _MEDIA
        connector = connector.configured(options.media if media else options.pdf)
    if hasattr(connector, "with_table_options"):
        connector = connector.with_table_options(options.tables)
    return connector


def kind_of(connector: Any) -> str:
    return getattr(connector, "kind", "documents")


def _nested(name: str) -> bool:
    return name.lower().endswith(NESTED)


class _Archive:
    """What both ZIP connectors share: the chooser, the options, the member kinds."""

    name = "zip"
    modality = "text"  # each member's document says its own (pdf, audio...)
    suffixes = (".zip",)

    def __init__(self, choose: Chooser, options: Options | None = None) -> None:
        self.choose = choose
        self.options = options if options is not None else Options()
        self.notes: list[str] = []  # filled while reading: what was left out, and why

    def with_options(self, options: Options) -> Any:
        """A copy for one file of an ingest, reading its members with ``options``."""
        return type(self)(self.choose, options)

    def member_kind(self, archive: Path, member: Member) -> str | None:
        """``table``, ``documents``, ``nested``, or None (no connector reads it), decided
        from the member's name, or for a name that says nothing its first bytes (streamed
        out of the archive); no connector probes it (a film's probe needs a real file)."""
        if _nested(member.name):
            return "nested"
        try:
            chosen = self.choose(member_path(archive, member.name), probe=False)
        except ConnectorError:  # unsupported, or unreadable: the read will say which
            return None
        return kind_of(chosen.connector)

    def kinds(self, archive: Path) -> tuple[Listing, dict[str, list[Member]]]:
        """The archive's listing, and its members by :meth:`member_kind` (``"None"``: of
        no type docframe reads)."""
        with reading(archive):
            listing = list_zip(archive)
            out: dict[str, list[Member]] = {}
            for member in listing.members:
                out.setdefault(str(self.member_kind(archive, member)), []).append(member)
        return listing, out

    def holds_media(self, archive: Path) -> bool:
        """Whether a member is audio or video (the ingest checks the speech model's
        options once, before the first recording it reads). An archive that cannot be
        listed holds none: reading it says what is wrong."""
        try:
            _, kinds = self.kinds(archive)
        except ConnectorError:
            return False
        for member in kinds.get("documents", []):
            chosen = self.choose(member_path(archive, member.name), probe=False)
            if getattr(chosen.connector, "modality", None) in _MEDIA:
                return True
        return False


def _head(opener: Callable[[], Any]) -> bytes:
    try:
        with opener() as fh:
            return fh.read(HEAD_BYTES)
    except (OSError, EOFError, ConnectorError):
        return b""


class ZipTablesConnector(_Archive):
    """A ``.zip`` whose members are all table files (``flights.csv.zip``)."""

    kind = "table"

    def accepts(self, path: Path) -> bool:
        """Every member read is a table (and there is one); others are document archives.
        An archive that cannot be listed goes to the document connector, which says why."""
        try:
            _, kinds = self.kinds(Path(path))
        except ConnectorError:
            return False
        return "table" in kinds and set(kinds) <= {"table", "None"}

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        with reading(path):  # the archive's directory parsed once for all its members
            yield from self._tables(path, options)

    def _tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        listing, kinds = self.kinds(path)
        self.notes = list(listing.left_out)
        members = kinds.get("table", [])
        others = [m.name for m in listing.members if m not in members]
        if others:
            self.notes.append(f"not read: {_few(others)} (not table files)")
        one = len(members) == 1
        # several members: --table prefixes their names instead of naming each the same
        inner = options
        if not one and options.table is not None:
            inner = dataclasses.replace(options, table=None)
        used: set[str] = set()
        for member in members:
            for data in self._member_tables(path, member, inner):
                if not one and options.table:
                    data.name = table_name(f"{options.table}_{data.name}")
                data.name = _free(data.name, used, self.notes, member.name)
                data.origin = member.name + (f", {data.origin}" if data.origin else "")
                yield data

    def _member_tables(
        self, archive: Path, member: Member, options: TableOptions
    ) -> Iterator[TableData]:
        inner = member_path(archive, member.name)
        if member.name.lower().endswith(STREAMED):
            connector = self.choose(inner).connector
            yield from connector.read_tables(inner, options)
            return
        # Parquet, Excel, SQLite need a real file: a temporary copy, alive while the
        # caller consumes each table's batches (this generator is suspended meanwhile)
        with unpacked(lambda: open_member(archive, member.name), member.name, str(inner)) as tmp:
            yield from _copy_tables(self.choose(tmp).connector, tmp, str(inner), options)


def _copy_tables(
    connector: Any, tmp: Path, label: str, options: TableOptions
) -> Iterator[TableData]:
    """``connector``'s tables of the temporary copy ``tmp``, every error and batch
    naming ``label`` (what the user gave) instead of the copy's path."""
    try:
        for data in connector.read_tables(tmp, options):
            data.batches = _relabelled(data.batches, tmp, label)
            yield data
    except ConnectorError as exc:
        raise relabel(exc, tmp, label) from None


def _relabelled(batches: Iterator[Any], tmp: Path, label: str) -> Iterator[Any]:
    try:
        yield from batches
    except ConnectorError as exc:
        raise relabel(exc, tmp, label) from None


def _free(name: str, used: set[str], notes: list[str], member: str) -> str:
    """``name``, or ``name_2``... when another member's table took it (noted)."""
    free, n = name, 2
    while free in used:
        free, n = f"{name}_{n}", n + 1
    if free != name:
        notes.append(f"{member}: table named {free!r} ({name!r} was taken by another member)")
    used.add(free)
    return free


def _few(names: list[str], most: int = 5) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


class ZipDocumentsConnector(_Archive):
    """A ``.zip`` of documents: each member read becomes a document (module notes)."""

    kind = "documents"

    def extract(self, path: Path) -> Iterator[Document]:
        # the archive's directory parsed once, and one scratch folder, for all its members
        with reading(path), scratch() as folder:
            yield from self._documents(path, folder)

    def _documents(self, path: Path, folder: str) -> Iterator[Document]:
        listing, kinds = self.kinds(path)
        self.notes = list(listing.left_out)
        failed: list[str] = []
        recognised: list[str] = []
        tables_used: set[str] = set()
        read = 0
        for member in kinds.get("documents", []):
            label = str(member_path(path, member.name))
            try:
                docs, by_content = self._read(path, member, label, folder)
            except DocframeError as exc:
                if not isinstance(exc, ConnectorError):
                    raise  # lake or model problems stop the job: they are not the member's
                failed.append(f"{member.name}: {exc.message.removeprefix(label + ': ')}")
                continue
            except Exception as exc:  # noqa: BLE001 - one bad member must not end the archive
                failed.append(f"{member.name}: {type(exc).__name__}: {exc}".splitlines()[0])
                continue
            read += 1
            if by_content:
                recognised.append(member.name)
            for doc in docs:
                for table in doc.tables:  # a PDF's tables: names unique in the archive
                    table.name = _free(table.name, tables_used, self.notes, member.name)
                yield doc
        self._left_out(kinds, recognised, failed)
        if not read:
            raise ConnectorError(
                f"{path}: no member of this archive could be read ({len(failed)} failed: "
                f"{failed[0]})"
                if failed
                else f"{path}: no document in this archive",
                help="docframe reads the members a folder walk would (PDF, text, HTML, "
                "media); a .zip of table files only becomes tables",
            )

    def _left_out(
        self, kinds: dict[str, list[Member]], recognised: list[str], failed: list[str]
    ) -> None:
        """Notes for what the archive held and was not read, or was read by content."""
        if kinds.get("table"):
            names = [m.name for m in kinds["table"]]
            self.notes.append(
                f"not read: {_few(names)} (table files beside documents: zip them apart, "
                "or unpack the archive)"
            )
        if kinds.get("nested"):
            nested = [m.name for m in kinds["nested"]]
            self.notes.append(f"not read: {_few(nested)} (archives inside the archive)")
        if kinds.get("None"):
            suffixes = Counter(
                PurePosixPath(m.name).suffix.lower() or "(no suffix)" for m in kinds["None"]
            )
            shown = ", ".join(f"{s} x{n}" if n > 1 else s for s, n in suffixes.most_common())
            self.notes.append(
                f"not read: {len(kinds['None'])} member(s) of a type docframe does not read "
                f"({shown})"
            )
        if recognised:
            self.notes.append(f"recognised by content: {_few(recognised)}")
        self.notes += [f"failed: {line}" for line in failed]

    def _read(
        self, archive: Path, member: Member, label: str, folder: str
    ) -> tuple[list[Document], bool]:
        """The documents of one member, read from a temporary copy (see ``unpacked``)."""
        opener = partial(open_member, archive, member.name)
        with unpacked(opener, member.name, label, folder) as tmp:
            chosen = self.choose(tmp)
            connector = configure(chosen.connector, self.options)
            try:
                docs = list(connector.extract(tmp))
            except ConnectorError as exc:
                raise relabel(exc, tmp, label) from None
            for note in getattr(connector, "notes", None) or []:
                self.notes.append(f"{member.name}: {note}")
        for doc in docs:
            if doc.doc_key == tmp.name:  # keyed by its file name: the member's path is exact
                doc.doc_key = member.name
            doc.source_uri = label
            doc.modality = getattr(connector, "modality", None)
            if doc.metadata.get("note"):  # the ingest lists it with the archive's notes
                doc.metadata["note"] = f"{member.name}: {doc.metadata['note']}"
            if chosen.recognised:
                mark_recognised(doc, chosen.recognised)
        return docs, chosen.recognised is not None


def mark_recognised(doc: Document, what: str) -> None:
    """Say in ``doc``'s metadata that its type came from its content, not its name."""
    doc.metadata["recognised_by"] = "content"
    doc.metadata["recognised_as"] = what


class DecompressedConnector:
    """One ``.gz`` or ``.zst`` file whose inner file a connector reads from a temporary
    copy (``report.pdf.gz``); the table formats that stream are registered directly."""

    def __init__(self, choose: Chooser, inner: Any, options: Options | None = None) -> None:
        self.choose = choose
        self.inner = inner  # the connector the inner name (or content) chose: kind, modality
        self.options = options if options is not None else Options()
        self.name = inner.name
        self.kind = kind_of(inner)
        self.modality = getattr(inner, "modality", "text")
        self.notes: list[str] = []

    def with_options(self, options: Options) -> DecompressedConnector:
        return type(self)(self.choose, self.inner, options)

    def holds_media(self, path: Path) -> bool:
        return self.modality in _MEDIA

    def _copy(self, path: Path) -> Any:
        inner = path.name[: -len(Path(path.name).suffix)]
        return unpacked(lambda: open_compressed(path), inner or "file", str(path))

    def extract(self, path: Path) -> Iterator[Document]:
        with self._copy(path) as tmp:
            connector = configure(self.choose(tmp).connector, self.options)
            try:
                docs = list(connector.extract(tmp))
            except ConnectorError as exc:
                raise relabel(exc, tmp, str(path)) from None
            self.notes = list(getattr(connector, "notes", None) or [])
        for doc in docs:
            if doc.doc_key == tmp.name:
                doc.doc_key = path.name
            yield doc

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        with self._copy(path) as tmp:
            connector = self.choose(tmp).connector
            yield from _copy_tables(connector, tmp, str(path), options)
            self.notes = list(getattr(connector, "notes", None) or [])


def decompressed_head(path: Path) -> bytes:
    """The first bytes of what a ``.gz``/``.zst`` file holds (empty when unreadable)."""
    return _head(lambda: open_compressed(path)) if codec_of(path) else b""
