"""SQLite database files (``.sqlite``, ``.sqlite3``, ``.db``): one lake table per table.

* **Opening**: read-only (``file:...?mode=ro``; never ``immutable``, so a
  database being written is read safely through SQLite's own locking). The file
  must start with SQLite's header, otherwise it is reported as mislabeled. A
  database locked by a writer (an EXCLUSIVE lock) is waited for up to
  :data:`LOCK_TIMEOUT_S` seconds, then is the one-line error ``database is
  locked``.
* **Tables**: every ordinary table of the main schema (``sqlite_*`` internals,
  views, virtual tables and their shadow tables are not read; views and virtual
  tables are listed in the first table's notes). Every table's types are settled
  (see below) before the first table is yielded, so a contradicting value fails
  the file before any rows are written. Lake name: the table's name
  through ``table_name()``, as ``{options.table}_{name}`` when ``--table`` is
  given. Each table is streamed with ``fetchmany(options.batch_rows)`` on its
  own read-only connection.
* **Types**: SQLite types values, not columns, so both the declared type and
  the storage classes actually present (one aggregate scan per table, before
  any row is streamed) decide. The declared type is mapped by SQLite's own
  affinity rules (``INT`` -> integer; ``CHAR``/``CLOB``/``TEXT`` -> text;
  ``BLOB`` or none -> whatever the values are; ``REAL``/``FLOA``/``DOUB`` ->
  float; anything else numeric), with ``BOOL*`` -> bool (values 0/1), ``DATE``
  -> date32 and ``DATETIME``/``TIMESTAMP*`` -> timestamp[us] (timestamp[us,
  tz=UTC] when every value carries a zone) for ISO text values. ``NUMERIC`` and
  ``DECIMAL(p,s)`` hold integers or doubles in SQLite, never exact decimals:
  they become int64 when every value is an integer, else float64 (declare
  ``decimal(p,s)`` to get decimals).
* **Values that contradict the declared type** -- values SQLite's affinity
  could not convert on insert, such as ``'abc'`` in an INTEGER column -- are an
  error naming the table, the row (1-based, in table order), the column and the
  value, with the ``--schema table.column=string`` that accepts them. The one
  silent widening is SQLite's own: an INTEGER-declared column holding
  non-integral REAL values becomes float64, with a note.
* ``--schema`` keys are ``column`` (every table with it) or ``table.column``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from docframe.connectors import schema as sch
from docframe.connectors.sources import mislabeled, read_head
from docframe.connectors.tables import TableData, TableOptions, table_name
from docframe.errors import ConnectorError
from docframe.lake.names import quote_ident

MAGIC = b"SQLite format 3\x00"
LOCK_TIMEOUT_S = 2.0  # how long to wait for a writer's lock before giving up
STATS_COLUMNS = 200  # columns per aggregate query (SQLite allows 2,000 result columns)
_CLASSES = ("integer", "real", "text", "blob")


class SqliteConnector:
    """SQLite database files (see the module docstring)."""

    name = "sqlite"
    kind = "table"
    suffixes = (".sqlite", ".sqlite3", ".db")

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        head = read_head(path, 100)
        if not head:
            raise ConnectorError(f"{path}: empty file", help="remove it, or restore the database")
        if not head.startswith(MAGIC):
            raise mislabeled(path, read_head(path, 4096), "a SQLite database")
        with _errors(path):
            conn = _connect(path)
            try:
                tables, skipped = _list_tables(conn)
                columns = {t: _columns(conn, t) for t in tables}
            finally:
                conn.close()
        if not tables:
            extra = f" (it has only {', '.join(skipped)})" if skipped else ""
            raise ConnectorError(
                f"{path}: no tables in this SQLite database{extra}",
                help="nothing to ingest; views and virtual tables are not read",
            )
        declared = sch.resolve_schema_multi(
            path, options.schema, {t: [c.name for c in cols] for t, cols in columns.items()}
        )
        names = sch.unique_table_names(
            table_name(f"{options.table}_{t}" if options.table else t) for t in tables
        )
        readers = []
        for table in tables:  # plan every table first: a bad column fails before any rows
            reader = _Table(path, options, table, columns[table], declared[table])
            reader.plan()
            readers.append(reader)
        if skipped:
            readers[0].notes.append(f"not read (views and virtual tables): {', '.join(skipped)}")
        for table, lake_name, reader in zip(tables, names, readers, strict=True):
            yield TableData(
                name=lake_name,
                schema=reader.schema,
                batches=reader.batches(),
                origin=f"sqlite table {table}",
                notes=reader.notes,
            )


class _errors:
    """Turns sqlite3 errors into one-line ConnectorErrors naming the file."""

    def __init__(self, path: Path, table: str | None = None) -> None:
        self.path = path
        self.where = f": table {table!r}" if table else ""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or not isinstance(exc, sqlite3.Error):
            return False
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise ConnectorError(
                f"{self.path}{self.where}: database is locked (another connection is writing)",
                help="retry when the writer finishes",
            ) from None
        if "not a database" in text or "malformed" in text or "encrypted" in text:
            raise ConnectorError(
                f"{self.path}{self.where}: damaged or not a SQLite database ({text})",
                help="check the file; restore it from a backup or re-export it",
            ) from None
        raise ConnectorError(
            f"{self.path}{self.where}: cannot read the SQLite database ({text})",
            help="check that the file is readable; a WAL database also needs its folder writable",
        ) from None


def _connect(path: Path) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=LOCK_TIMEOUT_S, check_same_thread=False)
    conn.text_factory = str
    return conn


def _list_tables(conn: sqlite3.Connection) -> tuple[list[str], list[str]]:
    """(ordinary tables, skipped views and virtual tables), in the database's order."""
    try:
        rows = conn.execute("PRAGMA main.table_list").fetchall()
        listing = [(r[1], r[2]) for r in rows if r[0] == "main"]
        order = {
            name: i
            for i, (name,) in enumerate(
                conn.execute("SELECT name FROM main.sqlite_master ORDER BY rowid")
            )
        }
        listing.sort(key=lambda item: order.get(item[0], len(order)))
    except sqlite3.OperationalError:  # SQLite < 3.37: no table_list
        rows = conn.execute(
            "SELECT name, CASE WHEN sql LIKE 'CREATE VIRTUAL%' THEN 'virtual' ELSE type END "
            "FROM main.sqlite_master WHERE type IN ('table', 'view') ORDER BY rowid"
        ).fetchall()
        listing = [(r[0], r[1]) for r in rows]
    tables, skipped = [], []
    for name, kind in listing:
        if name.startswith("sqlite_"):
            continue
        if kind == "table":
            tables.append(name)
        elif kind in ("view", "virtual"):
            skipped.append(f"{kind} {name}")
    return tables, skipped


@dataclass
class _Column:
    name: str
    declared: str  # the declared type, as written


def _columns(conn: sqlite3.Connection, table: str) -> list[_Column]:
    rows = conn.execute(f"PRAGMA main.table_xinfo({quote_ident(table)})").fetchall()
    return [_Column(r[1], r[2] or "") for r in rows if r[6] != 1]  # 1: hidden


def _intent(declared: str) -> str:
    """What a declared type asks for, by SQLite's affinity rules plus common names."""
    d = declared.upper()
    if "INT" in d:
        return "int"
    if "CHAR" in d or "CLOB" in d or "TEXT" in d:
        return "text"
    if "BLOB" in d or not d.strip():
        return "any"
    if "REAL" in d or "FLOA" in d or "DOUB" in d:
        return "float"
    word = d.split("(")[0].strip()
    if word == "ANY":
        return "any"
    if word.startswith("BOOL"):
        return "bool"
    if word == "DATE":
        return "date"
    if word.startswith(("DATETIME", "TIMESTAMP")):
        return "timestamp"
    return "numeric"


@dataclass
class _Table:
    path: Path
    options: TableOptions
    table: str
    columns: list[_Column]
    declared: dict[str, pa.DataType]
    notes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    types: dict[str, pa.DataType] = field(default_factory=dict)
    schema: pa.Schema | None = None

    def plan(self) -> None:
        """The Arrow type of every column, from declared types and the values present."""
        self.names, renamed = sch.unique_names(c.name for c in self.columns)
        self.notes.extend(renamed)
        stats = self._stats()
        for col, name in zip(self.columns, self.names, strict=True):
            if col.name in self.declared:
                self.types[name] = self.declared[col.name]
                continue
            self.types[name] = self._type(col, stats[col.name])
        self.schema = pa.schema([(n, self.types[n]) for n in self.names])

    def _stats(self) -> dict[str, dict[str, Any]]:
        """Per column: the storage classes present, and the checks some intents need."""
        out: dict[str, dict[str, Any]] = {}
        cols = [c for c in self.columns if c.name not in self.declared]
        with _errors(self.path, self.table):
            conn = _connect(self.path)
            try:
                conn.create_function("df_has_zone", 1, _has_zone, deterministic=True)
                for start in range(0, len(cols), STATS_COLUMNS):
                    part = cols[start : start + STATS_COLUMNS]
                    exprs: list[str] = []
                    spans = []
                    for col in part:
                        q = quote_ident(col.name)
                        mine = [f"max(typeof({q}) = '{k}')" for k in _CLASSES]
                        intent = _intent(col.declared)
                        if intent == "bool":
                            mine.append(f"max(typeof({q}) = 'integer' AND {q} NOT IN (0, 1))")
                        if intent == "timestamp":
                            mine += [f"max(df_has_zone({q}))", f"min(df_has_zone({q}))"]
                        spans.append((col, len(exprs), len(mine)))
                        exprs += mine
                    sql = f"SELECT {', '.join(exprs)} FROM main.{quote_ident(self.table)}"
                    row = conn.execute(sql).fetchone()
                    for col, at, n in spans:
                        vals = row[at : at + n]
                        info: dict[str, Any] = {
                            "classes": {k for k, v in zip(_CLASSES, vals[:4], strict=True) if v}
                        }
                        intent = _intent(col.declared)
                        if intent == "bool":
                            info["not_bool"] = bool(vals[4])
                        if intent == "timestamp":
                            info["any_zone"], info["all_zone"] = bool(vals[4]), bool(vals[5])
                        out[col.name] = info
            finally:
                conn.close()
        return out

    def _type(self, col: _Column, stats: dict[str, Any]) -> pa.DataType:
        intent = _intent(col.declared)
        classes = stats["classes"]
        numbers = classes & {"integer", "real"}
        if intent in ("int", "numeric"):
            self._refuse(col, classes - {"integer", "real"})
            if "real" in classes:
                if intent == "int":
                    self.notes.append(
                        f"column {col.name!r}: declared {col.declared} but holds non-integer "
                        f"values (SQLite stored them as REAL); read as float64"
                    )
                return pa.float64()
            if intent == "numeric" and not classes and "(" in col.declared:
                return pa.float64()  # DECIMAL(p,s) with no values: a number with decimals
            return pa.int64()
        if intent == "float":
            self._refuse(col, classes - {"integer", "real"})
            return pa.float64()
        if intent == "text":
            self._refuse(col, classes & {"blob"})
            return pa.string()
        if intent == "bool":
            self._refuse(col, classes - {"integer"})
            if stats["not_bool"]:
                self._refuse(
                    col, {"integer"}, where="typeof({q}) = 'integer' AND {q} NOT IN (0, 1)"
                )
            return pa.bool_()
        if intent in ("date", "timestamp"):
            self._refuse(col, classes - {"text"})
            if intent == "date":
                return pa.date32()
            if stats["any_zone"] and not stats["all_zone"]:
                raise ConnectorError(
                    f"{self.path}: table {self.table!r}, column {col.name!r}: some values carry "
                    f"a time zone and others do not",
                    help=f"declare how to read them: "
                    f"{sch.schema_flag(f'{self.table}.{col.name}', 'timestamp[tz=UTC]')}",
                )
            return pa.timestamp("us", tz="UTC" if stats["all_zone"] else None)
        # "any": no declared type (or BLOB, ANY): the values decide
        if not classes:
            return pa.string()
        if classes <= {"integer", "real"}:
            return pa.float64() if "real" in classes else pa.int64()
        if classes == {"blob"}:
            return pa.binary()
        if "blob" in classes:
            first = self._first_class(col)
            self._refuse(
                col,
                {"blob"} if first != "blob" else classes - {"blob"},
                declared_as=("no declared type: bytes and other values cannot share a column"),
            )
        if numbers:
            self.notes.append(
                f"column {col.name!r}: no declared type, holds text and numbers; read as string"
            )
        return pa.string()

    def _first_class(self, col: _Column) -> str | None:
        q = quote_ident(col.name)
        with _errors(self.path, self.table):
            conn = _connect(self.path)
            try:
                row = conn.execute(
                    f"SELECT typeof({q}) FROM main.{quote_ident(self.table)} "
                    f"WHERE {q} IS NOT NULL LIMIT 1"
                ).fetchone()
            finally:
                conn.close()
        return row[0] if row else None

    def _refuse(
        self,
        col: _Column,
        classes: set[str],
        where: str | None = None,
        declared_as: str | None = None,
    ) -> None:
        """Raise for the first value of ``classes`` (or matching ``where``) in ``col``."""
        if not classes:
            return
        q = quote_ident(col.name)
        cond = (where or "typeof({q}) IN ({k})").format(
            q=q, k=", ".join(f"'{k}'" for k in sorted(classes))
        )
        found = None
        with _errors(self.path, self.table):
            conn = _connect(self.path)
            try:
                cursor = conn.execute(
                    f"SELECT {cond}, typeof({q}), {q} FROM main.{quote_ident(self.table)}"
                )
                for number, (hit, kind, value) in enumerate(cursor, start=1):
                    if hit:
                        found = number, kind, value
                        break
            finally:
                conn.close()
        number, kind, value = found if found else (0, "?", None)
        typed = declared_as or f"declared {col.declared}"
        raise ConnectorError(
            f"{self.path}: table {self.table!r}, row {number}, column {col.name!r}: "
            f"value {sch.show(value)} ({kind}) contradicts the column's type ({typed})",
            help=f"declare the column's type: "
            f"{sch.schema_flag(f'{self.table}.{col.name}', 'string')}",
        )

    def batches(self) -> Iterator[pa.RecordBatch]:
        size = self.options.batch_rows
        select = ", ".join(quote_ident(c.name) for c in self.columns)
        emitted = 0
        with _errors(self.path, self.table):
            conn = _connect(self.path)
            try:
                cursor = conn.execute(f"SELECT {select} FROM main.{quote_ident(self.table)}")
                while rows := cursor.fetchmany(size):
                    yield self._batch(rows, emitted)
                    emitted += len(rows)
            finally:
                conn.close()
        if not emitted:
            yield self._batch([], 0)

    def _batch(self, rows: list[tuple], before: int) -> pa.RecordBatch:
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(self.names)
        arrays = [
            self._array(name, list(values), before)
            for name, values in zip(self.names, columns, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _array(self, name: str, values: list, before: int) -> pa.Array:
        target = self.types[name]
        source = self.columns[self.names.index(name)].name
        textual = pa.types.is_date(target) or pa.types.is_timestamp(target)
        if pa.types.is_binary(target):
            return pa.array([_as_bytes(v) for v in values], pa.binary())
        if source in self.declared or textual:
            texts = pa.array([_as_text(v, target) for v in values], pa.string())
            return sch.cast_texts(
                texts, target, path=self.path,
                where=lambda i: f"table {self.table!r}, row {before + i + 1}",
                column=name, values=values, declared=source in self.declared,
            )  # fmt: skip
        if pa.types.is_boolean(target):
            return pa.array(values, pa.int64()).cast(pa.bool_())
        if pa.types.is_string(target):
            values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        return pa.array(values, type=target)


def _has_zone(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    return 1 if sch.ZONE_OFFSET_RE.search(value.strip()) else 0


def _as_bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _as_text(value: Any, target: pa.DataType) -> str | None:
    """A SQLite value as the text a declared type converts from (bytes as UTF-8 or hex)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.hex()
    if isinstance(value, float) and value.is_integer():
        if pa.types.is_integer(target) or pa.types.is_decimal(target):
            return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)
