"""What Tab offers in the shell: dot commands and their arguments, relations after
FROM/JOIN, ``rel.column`` after a relation name, and otherwise columns, relations,
search functions and SQL keywords."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from docframe.shell.output import SHELL_FORMATS

SEARCH_FUNCTIONS = ("search", "keyword_search", "hybrid_search")
DOT_COMMANDS = (".tables", ".schema", ".format", ".timer", ".snapshot", ".help", ".quit")
# the words after which a relation (or a search function) comes
_RELATION_BEFORE = ("from", "join", "describe", "table", "into", "update")


@dataclass
class Names:
    """What tab completion offers, read once per pinned snapshot."""

    relations: list[str]
    columns: dict[str, list[str]]  # relation -> columns
    keywords: list[str] = field(default_factory=list)


def complete(names: Names, line: str, begin: int, end: int, *, before: str) -> list[str]:
    """Candidates for the word ``line[begin:end]``; ``before`` is the statement typed so
    far up to the word (earlier lines of a multi-line statement included)."""
    word = line[begin:end]
    if "." in word:
        relation, _, prefix = word.rpartition(".")
        cols = names.columns.get(relation, [])
        if not cols:  # an alias: offer every column
            cols = sorted({c for cs in names.columns.values() for c in cs})
        return [f"{relation}.{c}" for c in cols if c.startswith(prefix)]
    previous = before.split()[-1].lower() if before.split() else ""
    functions = [f"{f}(" for f in SEARCH_FUNCTIONS]
    if previous in _RELATION_BEFORE:
        pool = [*names.relations, *functions]
    else:
        all_columns = sorted({c for cs in names.columns.values() for c in cs})
        keywords = [k.upper() if word.isupper() else k for k in names.keywords]
        pool = [*all_columns, *names.relations, *functions, *keywords]
    lowered = word.lower()
    seen: set[str] = set()
    out = []
    for candidate in pool:
        if candidate.lower().startswith(lowered) and candidate not in seen:
            seen.add(candidate)
            out.append(candidate)
    return out


def complete_dot_command(
    line: str, begin: int, end: int, relations: Callable[[], list[str]]
) -> list[str]:
    """Candidates in a dot-command line: the command itself, then its argument
    (``relations`` is asked only for ``.schema``'s)."""
    word = line[begin:end]
    head = line.lstrip()
    if " " not in head[: end - (len(line) - len(head))]:
        return [c for c in DOT_COMMANDS if c.startswith(word.lower())]
    command = head.split()[0].lower()
    if command == ".schema":
        options = relations()
    else:
        options = {
            ".format": list(SHELL_FORMATS),
            ".timer": ["on", "off"],
            ".snapshot": ["latest"],
        }.get(command, [])
    return [o for o in options if o.startswith(word)]


_KEYWORDS: list[str] | None = None


def keywords() -> list[str]:
    """DuckDB's reserved and unreserved keywords, lower case (asked of DuckDB itself)."""
    global _KEYWORDS
    if _KEYWORDS is None:
        import duckdb

        con = duckdb.connect(":memory:")
        try:
            rows = con.execute(
                "SELECT DISTINCT lower(keyword_name) FROM duckdb_keywords() ORDER BY 1"
            ).fetchall()
        finally:
            con.close()
        _KEYWORDS = [r[0] for r in rows]
    return _KEYWORDS
