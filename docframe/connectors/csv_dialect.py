"""How a CSV file is written: delimiter, quote character, header and column names.

Decided once from the first lines (:func:`sniff_dialect`), before any row is
parsed, so pyarrow's streaming reader and the ``csv`` module that finds line
numbers for errors (:mod:`docframe.connectors.csv_rows`) split rows alike.
The rules are listed in :mod:`docframe.connectors.csv`'s docstring.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from docframe.connectors import schema as sch
from docframe.connectors.tables import TableOptions
from docframe.errors import ConnectorError

SNIFF_LINES = 50
DELIMITERS = ",\t;|"


@dataclass
class CsvDialect:
    """What the sniffing decided: everything needed to split the file into rows."""

    path: Path
    encoding: str  # a Python codec name
    delimiter: str = ","
    quotechar: str = '"'
    header: bool = True
    skip_rows: int = 0  # lines before the first data row: leading blank lines, the header
    names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # column names repaired


def sniff_dialect(path: Path, encoding: str, lines: list[str], options: TableOptions) -> CsvDialect:
    """The dialect of ``path`` from its first ``lines`` (decoded with ``encoding``)."""
    sample = lines[: SNIFF_LINES * 4]
    first = next((ln for ln in sample if ln.strip()), "")
    suffix_tab = path.name.lower().split(".")[-1] in ("tsv", "tab") or (
        path.name.lower().endswith((".tsv.gz", ".tab.gz", ".tsv.zst", ".tab.zst"))
    )
    if options.delimiter:
        delimiter = delimiter_option(options.delimiter)
    elif suffix_tab and "\t" in first:
        delimiter = "\t"
    else:
        delimiter = sniff_delimiter(sample, first, "\t" if suffix_tab else ",")
    quotechar = sniff_quote(sample, delimiter)
    reader = csv.reader(io.StringIO("".join(sample)), delimiter=delimiter, quotechar=quotechar)
    rows: list[list[str]] = []
    leading_blank = 0
    try:
        for row in itertools.islice(reader, SNIFF_LINES * 4):
            if not row:
                leading_blank += not rows
                continue
            rows.append(row)
            if len(rows) >= SNIFF_LINES:
                break
    except csv.Error:
        pass
    if not rows:
        raise ConnectorError(f"{path}: empty file", help="add rows, or remove the file")
    header = options.header if options.header is not None else has_header(rows)
    if header:
        raw = rows[0]
        skip_rows = leading_blank + 1
    else:
        raw = [f"column_{i}" for i in range(1, len(rows[0]) + 1)]
        skip_rows = leading_blank
    names, renamed = sch.unique_names(raw)
    return CsvDialect(path, encoding, delimiter, quotechar, header, skip_rows, names, renamed)


def delimiter_option(value: str) -> str:
    """``--delimiter`` as one character: ``tab``, ``\\t``, ``comma``... or the character itself."""
    named = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    delim = named.get(value.lower(), value)
    if len(delim) != 1 or delim in "\r\n\"'":
        raise ConnectorError(
            f"--delimiter {value!r}: a delimiter is one character (not a quote or newline)",
            help="e.g. --delimiter ';' or --delimiter tab",
        )
    return delim


def sniff_delimiter(lines: list[str], first: str, default: str) -> str:
    """``csv.Sniffer``'s choice among :data:`DELIMITERS` when the first line has it; else
    the candidate most frequent in the first line; else ``default``."""
    try:
        found = csv.Sniffer().sniff("".join(lines[:SNIFF_LINES]), delimiters=DELIMITERS)
        if found.delimiter in first:
            return found.delimiter
    except csv.Error:
        pass
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else default


def sniff_quote(lines: list[str], delimiter: str) -> str:
    """``'`` only when single-quoted fields clearly appear; otherwise ``"``."""
    text = "".join(lines[:SNIFF_LINES])
    d = re.escape(delimiter)
    single = len(re.findall(rf"(?:^|{d})'[^'\n]*'(?={d}|$)", text, re.MULTILINE))
    double = len(re.findall(rf'(?:^|{d})"', text, re.MULTILINE))
    return "'" if single > 0 and double == 0 else '"'


def cell_kind(cell: str) -> str:
    """What a cell's text looks like: empty, int, float, date, bool or text."""
    value = cell.strip()
    if not value or value in sch.NULL_TOKENS:
        return "empty"
    if re.fullmatch(r"[+-]?\d+", value):
        return "int"
    if sch.NUMBER.fullmatch(value):
        return "float"
    if sch.ISO_DATE.match(value):
        return "date"
    if value in sch.TRUE_TOKENS or value in sch.FALSE_TOKENS:
        return "bool"
    return "text"


def has_header(rows: list[list[str]]) -> bool:
    """The first row is a header unless it fits the rows below it as data.

    A first row without numbers or dates is a header (column names are words).
    Otherwise it is data when every cell fits the kind of its column below
    (an integer fits a column of decimals; anything fits a text column), as
    DuckDB decides. So ``country,2019,2020`` over ``France,1.5,2.5`` reads as
    data: pass ``header=True`` for year-like column names.
    """
    first = rows[0]
    kinds = [cell_kind(c) for c in first]
    if not any(k in ("int", "float", "date") for k in kinds):
        return True
    body = [r for r in rows[1:] if len(r) == len(first)]
    if not body:
        return False
    for i, kind in enumerate(kinds):
        below = {cell_kind(r[i]) for r in body} - {"empty"}
        if kind == "empty" or not below or "text" in below:
            continue
        if below <= {"int"}:
            fits = kind == "int"
        elif below <= {"int", "float"}:
            fits = kind in ("int", "float")
        else:
            fits = len(below) == 1 and kind in below
        if not fits:
            return True
    return False
