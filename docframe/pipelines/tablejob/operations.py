"""Each step operation's TOML value, checked and turned into typed arguments.

One ``_parse_<operation>`` per operation, collected in ``_PARSERS`` (the python
step's parser lives in :mod:`.python_step`). The values offered (join kinds,
aggregations, cast types) are only those every engine handles the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from docframe.errors import did_you_mean
from docframe.pipelines.tablejob.expressions import Expr
from docframe.pipelines.tablejob.problems import _Problem
from docframe.pipelines.tablejob.python_step import _parse_python

JOIN_KEYS = ("table", "on", "left_on", "right_on", "how", "columns", "suffixes")
JOIN_HOWS = ("inner", "left", "right", "outer")
AGGREGATIONS = ("count", "size", "sum", "mean", "min", "max", "std", "var", "median", "nunique")
CAST_TYPES = (
    *(f"{k}{b}" for k in ("int", "uint") for b in (8, 16, 32, 64)),
    "float32",
    "float64",
    "bool",
    "string",
    "category",
    *(f"datetime64[{u}]" for u in ("s", "ms", "us", "ns")),
)
_NO_NULLS_TYPES = tuple(t for t in CAST_TYPES if t.startswith(("int", "uint")) or t == "bool")


@dataclass(frozen=True)
class Join:
    table: str
    left_on: tuple[str, ...]
    right_on: tuple[str, ...]
    how: str = "inner"
    columns: tuple[str, ...] | None = None  # right-hand columns to bring (keys always come)
    suffixes: tuple[str, str] = ("_x", "_y")


def _names(value: Any, key: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Problem(f"expected a column name or a list of them, got {value!r}", key=key)
    if not value and not allow_empty:
        raise _Problem("expected at least one column name", key=key)
    duplicates = sorted({v for v in value if value.count(v) > 1})
    if duplicates:
        raise _Problem(f"column(s) listed twice: {', '.join(duplicates)}", key=key)
    return tuple(value)


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise _Problem(f"expected a table of column = value, got {value!r}", key=key)
    return dict(value)


def _unknown_keys(given: Sequence[str], valid: Sequence[str], what: str, prefix: str) -> None:
    for name in given:
        if name not in valid:
            raise _Problem(
                f"unknown key {name!r} in {what}{did_you_mean(name, valid)}",
                help=f"valid keys: {', '.join(valid)}",
                key=f"{prefix}{name}",
            )


def _parse_select(value: Any, options: dict) -> tuple[str, ...]:
    return _names(value, "select")


def _parse_rename(value: Any, options: dict) -> dict[str, str]:
    mapping = _mapping(value, "rename")
    for old, new in mapping.items():
        if not isinstance(new, str) or not new:
            raise _Problem(f"new name for {old!r} must be a non-empty string", key="rename")
    return mapping


def _parse_cast(value: Any, options: dict) -> dict[str, str]:
    mapping = _mapping(value, "cast")
    for column, dtype in mapping.items():
        if dtype not in CAST_TYPES:
            raise _Problem(
                f"cannot cast {column!r} to {dtype!r}{did_you_mean(str(dtype), CAST_TYPES)}",
                help=f"types every engine supports: {', '.join(CAST_TYPES)}",
                key="cast",
            )
    return mapping


def _parse_derive(value: Any, options: dict) -> tuple[tuple[str, Expr], ...]:
    derived = []
    for name, source in _mapping(value, "derive").items():
        try:
            derived.append((name, Expr.parse(source)))
        except _Problem as exc:
            raise _Problem(exc.message, exc.help, key=f"derive.{name}") from exc
    return tuple(derived)


def _parse_fill_null(value: Any, options: dict) -> Any:
    scalars = (str, int, float, bool)
    if isinstance(value, dict):
        for column, fill in _mapping(value, "fill_null").items():
            if not isinstance(fill, scalars):
                raise _Problem(f"fill value for {column!r} must be a scalar", key="fill_null")
        return value
    if isinstance(value, scalars):
        return value
    raise _Problem(f"expected a table of column = value or one value, got {value!r}")


def _parse_dedupe(value: Any, options: dict) -> tuple[str, ...] | None:
    keep = options.setdefault("keep", "first")
    if keep not in ("first", "last"):
        raise _Problem(f"keep must be 'first' or 'last', not {keep!r}", key="keep")
    if value is True:
        return None
    if value is False:
        raise _Problem("dedupe = false does nothing", help="remove the step")
    return _names(value, "dedupe")


def _parse_join(value: Any, options: dict) -> Join:
    if isinstance(value, str):
        raise _Problem(
            "join needs a table and keys", help='join = { table = "t", on = "key", how = "left" }'
        )
    spec = _mapping(value, "join")
    _unknown_keys(list(spec), JOIN_KEYS, "join", "join.")
    table = spec.get("table")
    if not isinstance(table, str) or not table:
        raise _Problem("join needs table = NAME", key="join.table")
    if "on" in spec:
        if "left_on" in spec or "right_on" in spec:
            raise _Problem("give either on or left_on + right_on, not both", key="join.on")
        left_on = right_on = _names(spec["on"], "join.on")
    elif "left_on" in spec and "right_on" in spec:
        left_on = _names(spec["left_on"], "join.left_on")
        right_on = _names(spec["right_on"], "join.right_on")
        if len(left_on) != len(right_on):
            raise _Problem("left_on and right_on differ in length", key="join.right_on")
    else:
        raise _Problem("join needs on = KEYS (or left_on and right_on)", key="join.on")
    how = spec.get("how", "inner")
    if how not in JOIN_HOWS:
        raise _Problem(
            f"unknown join how {how!r}{did_you_mean(str(how), JOIN_HOWS)}",
            help=f"valid: {', '.join(JOIN_HOWS)}",
            key="join.how",
        )
    columns = _names(spec["columns"], "join.columns") if "columns" in spec else None
    suffixes = spec.get("suffixes", ["_x", "_y"])
    if not (
        isinstance(suffixes, list)
        and len(suffixes) == 2
        and all(isinstance(s, str) for s in suffixes)
    ):
        raise _Problem("suffixes must be two strings", key="join.suffixes")
    return Join(table, left_on, right_on, how, columns, (suffixes[0], suffixes[1]))


def _parse_group_by(value: Any, options: dict) -> tuple[str, ...]:
    keys = _names(value, "group_by")
    if "aggregate" not in options:
        raise _Problem(
            "group_by needs aggregate in the same step",
            help='aggregate = { n = ["col", "count"], avg = ["col", "mean"] }',
            key="aggregate",
        )
    aggregate = []
    for name, spec in _mapping(options["aggregate"], "aggregate").items():
        if not (
            isinstance(spec, list) and len(spec) == 2 and all(isinstance(s, str) for s in spec)
        ):
            raise _Problem(
                f"{name} = {spec!r}: expected [column, function]",
                help=f'{name} = ["column", "mean"]',
                key="aggregate",
            )
        if spec[1] not in AGGREGATIONS:
            raise _Problem(
                f"unknown aggregation {spec[1]!r} for {name!r}"
                + did_you_mean(spec[1], AGGREGATIONS),
                help=f"functions every engine supports: {', '.join(AGGREGATIONS)}",
                key="aggregate",
            )
        if name in keys:
            raise _Problem(f"aggregate {name!r} has the name of a group key", key="aggregate")
        aggregate.append((name, spec[0], spec[1]))
    options["aggregate"] = tuple(aggregate)
    return keys


def _parse_sort(value: Any, options: dict) -> tuple[tuple[str, bool], ...]:
    keys = []
    for item in _names(value, "sort"):
        column, _, direction = item.rpartition(" ")
        if column and direction.lower() in ("asc", "desc"):
            keys.append((column.strip(), direction.lower() == "asc"))
        else:
            keys.append((item, True))
    return tuple(keys)


_PARSERS: dict[str, Callable[..., Any]] = {
    "select": _parse_select,
    "rename": _parse_rename,
    "cast": _parse_cast,
    "filter": lambda value, options: Expr.parse(value),
    "derive": _parse_derive,
    "fill_null": _parse_fill_null,
    "dedupe": _parse_dedupe,
    "join": _parse_join,
    "group_by": _parse_group_by,
    "sort": _parse_sort,
    "python": _parse_python,
}
