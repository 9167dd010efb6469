"""What one agent call may use (:class:`Limits`) and what a statement gives back
(:class:`SqlAnswer`, its values as plain JSON).

Both sides of the sandbox read this module: the main process sets the limits and
returns the answers, the worker enforces the limits and fills the answers. It imports
neither DuckDB nor Arrow, so the tools' schemas can quote the limits cheaply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from docframe.errors import QueryTimeout
from docframe.query import values

MAX_SEARCH_K = 1000  # k of one search call, in the search tool or a SQL search function
MAX_SEARCH_TEXT = 4000  # characters of a search question (the model reads ~256 tokens)
# a worker starts near 1.6 GB of address space (pyarrow's and DuckDB's allocators
# reserve it); its limit is this plus room for DuckDB's memory_limit twice over
WORKER_BASE_MB = 2048

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """What one agent call may use. Defaults suit a chat turn: enough rows to reason
    over, few enough that one answer cannot flood the model's context."""

    max_rows: int = 1000
    max_bytes: int = 1_000_000  # of the JSON rows in one answer
    timeout_s: float = 10.0  # per statement (search calls included)
    memory_limit: str = "1GB"  # DuckDB's memory_limit for the sandbox database

    def __post_init__(self) -> None:
        for name in ("max_rows", "max_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.timeout_s, (int, float)) or not self.timeout_s > 0:
            raise ValueError(
                f"timeout_s must be a positive number of seconds, got {self.timeout_s!r}"
            )
        if not isinstance(self.memory_limit, str) or not _SIZE.fullmatch(self.memory_limit):
            raise ValueError(
                f"memory_limit must be a size such as '1GB', got {self.memory_limit!r}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Limits:
        """Defaults, then ``DOCFRAME_MCP_MAX_ROWS`` / ``_MAX_BYTES`` / ``_TIMEOUT_S`` /
        ``_MEMORY_LIMIT`` (``docframe.config.mcp_limit_values``), then ``overrides`` that
        are not None (CLI flags)."""
        from docframe import config

        values: dict[str, Any] = {}
        for name, raw in config.mcp_limit_values(env).items():
            kind = {"max_rows": int, "max_bytes": int, "timeout_s": float}.get(name, str)
            try:
                values[name] = kind(raw.strip())
            except ValueError:
                raise ValueError(
                    f"{config.MCP_LIMITS[name]}={raw!r} is not a valid {kind.__name__}"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def megabytes(size: str) -> int:
    """DuckDB-style size text (``1GB``, ``512MiB``, ``2 GB``) in MiB."""
    match = _SIZE.fullmatch(size)
    if not match:
        raise ValueError(f"memory_limit {size!r} is not a size such as '1GB' or '512MB'")
    number, unit = float(match.group(1)), (match.group(2) or "B").upper()
    base = 1024 if "I" in unit else 1000
    power = "BKMGT".index(unit[0])
    return max(1, int(number * base**power / 2**20))


def timeout_error(limits: Limits) -> QueryTimeout:
    """The one message of a statement stopped at the time limit, wherever it stopped
    (DuckDB interrupted in the worker, or the worker killed by the main process)."""
    return QueryTimeout(
        f"stopped: the statement ran past the {limits.timeout_s:g} s time limit",
        help="filter earlier, aggregate, or add LIMIT; avoid cross joins of large relations",
    )


@dataclass
class SqlAnswer:
    """One statement's result, ready to serialise as JSON."""

    columns: list[dict[str, str]]
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool
    truncated_by: str | None  # "max_rows" | "max_bytes" | None
    snapshot: int
    elapsed_ms: float
    searches: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- values -------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A DuckDB/Arrow value as agents get it: the ``"iso"`` JSON of
    :func:`docframe.query.values.json_value` (dates as ISO text, durations in seconds,
    BLOBs as ``base64:...``, integral decimals as integers, NaN/infinity as null), the
    interchange form a model can read without knowing DuckDB's text formats."""
    return values.json_value(value, style="iso")


def cell(value: Any, duck_type: str) -> Any:
    """One result cell as JSON: a JSON column's text parsed, anything else by :func:`json_value`."""
    if duck_type == "JSON" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return json_value(value)


def json_size(obj: Any) -> int:
    """Bytes of ``obj`` as compact UTF-8 JSON: what the byte limit counts."""
    return len(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
