"""Declarative table jobs: steps over lake tables, run by the active table engine.

A job reads one lake table (plus the tables it joins), applies its steps in
order and commits the result as one lake table::

    [job]
    name = "delays_by_carrier"
    input = "flights"
    output = "delays_by_carrier"          # default: the job's name

    [[steps]]
    filter = "dep_delay > 0 and origin == 'JFK'"
    [[steps]]
    join = { table = "airlines", on = "carrier", how = "left" }
    [[steps]]
    group_by = ["carrier", "name"]
    aggregate = { n = ["dep_delay", "count"], mean_delay = ["dep_delay", "mean"] }

One operation per ``[[steps]]`` table: ``select``, ``rename``, ``cast``,
``filter``, ``derive``, ``fill_null``, ``dedupe`` (+ ``keep``), ``join``,
``group_by`` (+ ``aggregate``), ``sort`` and ``python`` (+ ``partitionwise``).

Execution is written once against the API that pandas, cuDF and dask.dataframe
share (``merge``, ``groupby().agg(**named)``, ``astype``, ``fillna``,
``drop_duplicates``, ``sort_values``, ``rename``, ``assign``). Portability is
decided before anything runs: the spec accepts only what every engine does the
same way, so there is no per-engine fallback to hide. Expressions (``filter``,
``derive``) are parsed here and evaluated as Series operations rather than
handed to ``DataFrame.query``/``eval``: cuDF's ``query`` supports numeric,
datetime and bool columns only (not ``origin == 'JFK'``), and cuDF compares
nulls to null where pandas says False. A comparison with a missing value is
False on every engine (``!=`` is True), as in pandas.

The job's content hash covers its normalised spec and the versions of the tables
it reads, so rerunning an unchanged job is a no-op.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import importlib
import inspect
import io
import json
import marshal
import operator
import re
import sys
import time
import tokenize
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from docframe.errors import DocframeError

if TYPE_CHECKING:
    from docframe.lake.lake import Lake
    from docframe.lake.snapshot import Snapshot, TableInfo

FORMAT_VERSION = 1
ENGINES = ("pandas", "cudf", "dask", "dask-cudf")
STEP_OPTIONS: dict[str, tuple[str, ...]] = {  # operation key -> option keys allowed beside it
    "select": (),
    "rename": (),
    "cast": (),
    "filter": (),
    "derive": (),
    "fill_null": (),
    "dedupe": ("keep",),
    "join": (),
    "group_by": ("aggregate",),
    "sort": (),
    "python": ("partitionwise",),
}
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


class JobError(DocframeError):
    """A table job is invalid or failed; ``step`` (1-based) and ``key`` locate it."""

    def __init__(
        self,
        message: str,
        *,
        help: str | None = None,
        step: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message, help=help)
        self.step = step
        self.key = key

    def __reduce__(self):
        return (_rebuild_job_error, (self.message, self.help, self.step, self.key))


def _rebuild_job_error(message: str, help: str | None, step: int | None, key: str | None):
    return JobError(message, help=help, step=step, key=key)


class _Problem(Exception):
    """A spec problem found below the step level; the caller adds where it is."""

    def __init__(self, message: str, help: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.message, self.help, self.key = message, help, key


def _did_you_mean(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _listing(names: Sequence[str], limit: int = 12) -> str:
    names = list(names)
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


# -- expressions --------------------------------------------------------------------
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
# comparison -> (operator, what a missing value compares as)
_COMPARE: dict[type, tuple[Callable[[Any, Any], Any], bool]] = {
    ast.Eq: (operator.eq, False),
    ast.NotEq: (operator.ne, True),
    ast.Lt: (operator.lt, False),
    ast.LtE: (operator.le, False),
    ast.Gt: (operator.gt, False),
    ast.GtE: (operator.ge, False),
}
# method -> (min args, max args, is a predicate)
_METHODS: dict[str, tuple[int, int, bool]] = {
    "isna": (0, 0, True),
    "notna": (0, 0, True),
    "isnull": (0, 0, True),
    "notnull": (0, 0, True),
    "abs": (0, 0, False),
    "round": (0, 1, False),
    "fillna": (1, 1, False),
    "isin": (1, 1, True),
    "between": (2, 2, True),
}
_STR_METHODS: dict[str, tuple[int, int, bool]] = {
    "lower": (0, 0, False),
    "upper": (0, 0, False),
    "strip": (0, 0, False),
    "startswith": (1, 1, True),
    "endswith": (1, 1, True),
    "contains": (1, 1, True),  # a literal substring, never a regex (dialects differ)
}
_FUNCTIONS = ("abs", "round", "isna", "notna", "isnull", "notnull")  # f(x, ...) == x.f(...)
EXPRESSION_HELP = (
    "expressions use columns, literals, + - * / // % **, == != < <= > >=, in [...], "
    "and/or/not (& | ~), and .isna() .notna() .abs() .round(n) .fillna(v) .isin([...]) "
    ".between(a, b) .str.lower() .str.upper() .str.strip() .str.startswith(s) "
    ".str.endswith(s) .str.contains(s)"
)


def _rewrite(source: str) -> tuple[str, dict[str, str]]:
    """Backtick names become identifiers; ``&``/``|`` get boolean precedence (as pandas)."""
    names: dict[str, str] = {}

    def quote(match: re.Match[str]) -> str:
        placeholder = f"__col{len(names)}__"
        names[placeholder] = match.group(1)
        return placeholder

    text = re.sub(r"`([^`]+)`", quote, source)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise _Problem(f"cannot parse expression {source!r}: {exc}", EXPRESSION_HELP) from exc
    swap = {"&": "and", "|": "or"}
    out = [
        (tokenize.NAME, swap[t.string]) if t.type == tokenize.OP and t.string in swap else t[:2]
        for t in tokens
    ]
    return tokenize.untokenize(out), names


class _Calls(ast.NodeTransformer):
    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and node.args:
            attr = ast.Attribute(value=node.args[0], attr=node.func.id, ctx=ast.Load())
            return ast.copy_location(ast.Call(attr, node.args[1:], node.keywords), node)
        return node


def _literal(node: ast.AST, what: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool)):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
    ):
        return -node.operand.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(e, what) for e in node.elts]
    raise _Problem(f"{what} takes literal values, not `{ast.unparse(node)}`", EXPRESSION_HELP)


@dataclass(frozen=True)
class Expr:
    """A parsed ``filter``/``derive`` expression (the portable subset of pandas syntax)."""

    source: str
    tree: ast.Expression = field(repr=False, compare=False)
    columns: tuple[str, ...]  # every column it reads
    canonical: str = field(repr=False)
    _names: Mapping[str, str] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, source: str) -> Expr:
        if not isinstance(source, str) or not source.strip():
            raise _Problem(f"expected an expression string, got {source!r}", EXPRESSION_HELP)
        text, names = _rewrite(source)
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise _Problem(
                f"cannot parse expression {source!r}: {exc.msg}", EXPRESSION_HELP
            ) from exc
        tree = ast.fix_missing_locations(_Calls().visit(tree))
        columns: list[str] = []
        _check(tree.body, columns, names)
        return cls(source, tree, tuple(dict.fromkeys(columns)), ast.unparse(tree), names)

    def evaluate(self, frame: Any, engine: Engine) -> Any:
        return _evaluate(self.tree.body, frame, engine, self._names)


def _check(node: ast.AST, columns: list[str], names: Mapping[str, str]) -> None:
    """Refuse anything outside the portable subset; collect the columns read."""
    if isinstance(node, ast.Name):
        columns.append(names.get(node.id, node.id))
    elif isinstance(node, ast.Constant):
        if node.value is None:
            raise _Problem("None is not a value here", "test for missing values with col.isna()")
        if not isinstance(node.value, (str, int, float, bool)):
            raise _Problem(f"unsupported literal {node.value!r}", EXPRESSION_HELP)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, columns, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(
        node.op, (ast.Not, ast.Invert, ast.USub, ast.UAdd)
    ):
        _check(node.operand, columns, names)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        _check(node.left, columns, names)
        _check(node.right, columns, names)
    elif isinstance(node, ast.Compare):
        _check(node.left, columns, names)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)):
                _literal(right, "`in`")
            elif type(op) in _COMPARE:
                _check(right, columns, names)
            else:
                raise _Problem(f"unsupported comparison in `{ast.unparse(node)}`", EXPRESSION_HELP)
    elif isinstance(node, ast.Call):
        target, method, table = _method(node)
        low, high, _ = table[method]
        if node.keywords or not low <= len(node.args) <= high:
            raise _Problem(
                f"`{ast.unparse(node)}`: .{method}() takes {low}"
                + (f" to {high}" if high != low else "")
                + " positional argument(s)",
                EXPRESSION_HELP,
            )
        for arg in node.args:
            _literal(arg, f".{method}()")
        _check(target, columns, names)
    else:
        raise _Problem(f"unsupported syntax `{ast.unparse(node)}`", EXPRESSION_HELP)


def _method(node: ast.Call) -> tuple[ast.AST, str, dict[str, tuple[int, int, bool]]]:
    func = node.func
    if isinstance(func, ast.Attribute):
        owner = func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "str":
            if func.attr in _STR_METHODS:
                return owner.value, func.attr, _STR_METHODS
            raise _Problem(
                f"unsupported string method .str.{func.attr}()"
                + _did_you_mean(func.attr, list(_STR_METHODS)),
                EXPRESSION_HELP,
            )
        if func.attr in _METHODS:
            return owner, func.attr, _METHODS
        raise _Problem(
            f"unsupported method .{func.attr}()" + _did_you_mean(func.attr, list(_METHODS)),
            EXPRESSION_HELP,
        )
    name = ast.unparse(func)
    raise _Problem(
        f"unsupported function {name}()" + _did_you_mean(name, _FUNCTIONS), EXPRESSION_HELP
    )


def _evaluate(node: ast.AST, frame: Any, engine: Engine, names: Mapping[str, str]) -> Any:
    def ev(n: ast.AST) -> Any:
        return _evaluate(n, frame, engine, names)

    if isinstance(node, ast.Name):
        return frame[names.get(node.id, node.id)]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BoolOp):
        masks = [engine.definite(ev(v), False) for v in node.values]
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        result = masks[0]
        for mask in masks[1:]:
            result = combine(result, mask)
        return result
    if isinstance(node, ast.UnaryOp):
        value = ev(node.operand)
        if isinstance(node.op, (ast.Not, ast.Invert)):
            return ~engine.definite(value, False) if _is_series(value) else not value
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
    if isinstance(node, ast.Compare):
        result, left = None, ev(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)):
                mask = engine.definite(left.isin(_literal(right_node, "`in`")), False)
                right = None
                mask = ~mask if isinstance(op, ast.NotIn) else mask
            else:
                func, missing = _COMPARE[type(op)]
                right = ev(right_node)
                mask = engine.definite(func(left, right), missing)
            result = mask if result is None else result & mask
            left = right
        return result
    if isinstance(node, ast.Call):
        target, method, table = _method(node)
        args = [_literal(a, method) for a in node.args]
        value = ev(target)
        if table is _STR_METHODS:
            if method == "contains":  # a literal: regex dialects differ between engines
                out = value.str.contains(args[0], regex=False)
            else:
                out = getattr(value.str, method)(*args)
        elif method in ("isna", "isnull", "notna", "notnull"):  # dask has no Series.notna
            out = value.isna() if method in ("isna", "isnull") else ~value.isna()
        else:
            out = getattr(value, method)(*args)
        return engine.definite(out, False) if table[method][2] else out
    raise AssertionError(f"unchecked node {ast.dump(node)}")  # _check refused it


def _is_series(value: Any) -> bool:
    return hasattr(value, "dtype") and hasattr(value, "fillna")


# -- engines ------------------------------------------------------------------------
@dataclass(frozen=True)
class Engine:
    """Where steps run: ``pandas``, ``cudf``, ``dask`` (pandas partitions) or ``dask-cudf``."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise JobError(
                f"unknown table engine {self.name!r}{_did_you_mean(self.name, ENGINES)}",
                help=f"valid engines: {', '.join(ENGINES)}",
            )

    @property
    def gpu(self) -> bool:
        return self.name in ("cudf", "dask-cudf")

    @property
    def lazy(self) -> bool:
        return self.name.startswith("dask")

    @property
    def frame_package(self) -> str:
        """The top-level package a frame of this engine belongs to."""
        return "dask" if self.lazy else self.name

    def module(self) -> ModuleType:
        return importlib.import_module("cudf" if self.gpu else "pandas")

    def definite(self, mask: Any, missing: bool) -> Any:
        """A boolean mask without missing values (missing -> ``missing``)."""
        if not _is_series(mask):
            return mask
        if not self.gpu and str(mask.dtype) == "bool":
            return mask  # numpy bools cannot be missing; cuDF bools can
        mask = mask.fillna(missing)
        return mask if self.gpu else mask.astype(bool)


def engine_for(backend_name: str, *, distributed: bool = False) -> Engine:
    """The engine for a backend (``cpu``/``gpu`` or a table module name), maybe on Dask."""
    gpu = backend_name in ("gpu", "cudf")
    if distributed:
        return Engine("dask-cudf" if gpu else "dask")
    return Engine("cudf" if gpu else "pandas")


# -- the spec -----------------------------------------------------------------------
@dataclass(frozen=True)
class Join:
    table: str
    left_on: tuple[str, ...]
    right_on: tuple[str, ...]
    how: str = "inner"
    columns: tuple[str, ...] | None = None  # right-hand columns to bring (keys always come)
    suffixes: tuple[str, str] = ("_x", "_y")


@dataclass(frozen=True)
class PythonStep:
    ref: str  # "pkg.mod:func", or the qualified name of a callable passed in Python
    func: Callable[[Any], Any] = field(compare=False)
    partitionwise: bool = False
    fingerprint: str = ""


@dataclass(frozen=True)
class Step:
    """One ``[[steps]]`` entry: its 1-based ``number``, operation ``kind`` and arguments."""

    number: int
    kind: str
    args: Any
    options: Mapping[str, Any] = field(default_factory=dict)

    def canonical(self) -> dict[str, Any]:
        """What identifies this step's effect: the input to the job's content hash."""
        args = self.args
        if isinstance(args, Expr):
            args = args.canonical
        elif self.kind == "derive":
            args = [[name, expr.canonical] for name, expr in args]
        elif isinstance(args, PythonStep):
            args = {"ref": args.ref, "code": args.fingerprint, "partitionwise": args.partitionwise}
        elif isinstance(args, Join):
            args = {k: getattr(args, k) for k in Join.__dataclass_fields__}
        return json.loads(json.dumps({self.kind: args, **self.options}, default=list))


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
                f"unknown key {name!r} in {what}{_did_you_mean(name, valid)}",
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
                f"cannot cast {column!r} to {dtype!r}{_did_you_mean(str(dtype), CAST_TYPES)}",
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
            f"unknown join how {how!r}{_did_you_mean(str(how), JOIN_HOWS)}",
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
                + _did_you_mean(spec[1], AGGREGATIONS),
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


def _parse_python(value: Any, options: dict, base: Path | None = None) -> PythonStep:
    partitionwise = options.setdefault("partitionwise", False)
    if not isinstance(partitionwise, bool):
        raise _Problem("partitionwise must be true or false", key="partitionwise")
    if callable(value):
        ref = f"{getattr(value, '__module__', '?')}:{getattr(value, '__qualname__', repr(value))}"
        return PythonStep(ref, value, partitionwise, _fingerprint(value))
    if not isinstance(value, str) or value.count(":") != 1:
        raise _Problem(
            f"expected 'package.module:function', got {value!r}",
            help='python = "my_transforms:clean" (a module importable here or beside the job file)',
        )
    func = _import(value, base)
    return PythonStep(value, func, partitionwise, _fingerprint(func))


def _import(ref: str, base: Path | None) -> Callable[[Any], Any]:
    module_name, _, attr = ref.partition(":")
    added = base is not None and str(base) not in sys.path
    if added:
        sys.path.insert(0, str(base))
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        where = f" (looked beside the job file in {base} too)" if base else ""
        raise _Problem(
            f"cannot import {module_name!r}{where}: {exc}",
            help="make the module importable (installed, on PYTHONPATH, or next to the job file)",
        ) from exc
    finally:
        if added:
            sys.path.remove(str(base))
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise _Problem(f"{module_name} has no {attr!r}{_did_you_mean(part, names)}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise _Problem(f"{ref} is not callable")
    return obj


def _fingerprint(func: Callable[..., Any]) -> str:
    """Changes when the function's code changes; a fresh value when it cannot be known."""
    try:
        code = inspect.getsource(func).encode()
    except (OSError, TypeError):
        inner = getattr(func, "__code__", None)
        code = marshal.dumps(inner) if inner is not None else repr(func).encode()
    return hashlib.sha256(code).hexdigest()[:16]


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
_OPTION_OWNER = {opt: kind for kind, opts in STEP_OPTIONS.items() for opt in opts}


def _parse_step(number: int, raw: Any, base: Path | None = None) -> Step:
    """One step from its TOML/dict form; raises :class:`_Problem` naming what is wrong."""
    if isinstance(raw, Step):
        return Step(number, raw.kind, raw.args, raw.options)
    if not isinstance(raw, dict) or not raw:
        raise _Problem(f"a step is a table with one operation, got {raw!r}")
    kinds = [k for k in raw if k in STEP_OPTIONS]
    if len(kinds) > 1:
        raise _Problem(
            f"one operation per step, found {' and '.join(kinds)}",
            help="split them into separate [[steps]]",
            key=kinds[1],
        )
    if not kinds:
        first = next(iter(raw))
        owner = _OPTION_OWNER.get(first)
        if owner:
            raise _Problem(f"{first} needs {owner} in the same step", key=first)
        raise _Problem(
            f"unknown step {first!r}{_did_you_mean(first, list(STEP_OPTIONS))}",
            help=f"steps: {', '.join(STEP_OPTIONS)}",
            key=first,
        )
    kind = kinds[0]
    options = {k: v for k, v in raw.items() if k != kind}
    for key in options:
        if key not in STEP_OPTIONS[kind]:
            allowed = STEP_OPTIONS[kind]
            raise _Problem(
                f"unexpected key {key!r} beside {kind}"
                + _did_you_mean(key, allowed)
                + ("" if allowed else f" ({kind} takes no options)"),
                help=f"{kind} takes: {', '.join(allowed)}" if allowed else None,
                key=key,
            )
    try:
        args = (
            _parse_python(raw[kind], options, base)
            if kind == "python"
            else _PARSERS[kind](raw[kind], options)
        )
    except _Problem as exc:
        exc.key = exc.key or kind
        raise
    return Step(number, kind, args, options)


@dataclass(frozen=True)
class JobSpec:
    """A validated job. ``steps`` may be given as dicts (TOML form) or :class:`Step` objects.

    >>> JobSpec("top", input="flights", steps=[{"filter": "dep_delay > 60"}]).output
    'top'
    """

    name: str
    input: str
    output: str | None = None
    steps: Sequence[Any] = ()
    description: str = ""
    path: Path | None = None  # the TOML file it came from, for messages and imports

    def __post_init__(self) -> None:
        for key in ("name", "input"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise JobError(f'{self.where}[job] needs {key} = "..."', key=f"job.{key}")
        if self.output is None:
            object.__setattr__(self, "output", self.name)
        base = self.path.parent if self.path else None
        parsed = []
        for number, raw in enumerate(self.steps, start=1):
            try:
                parsed.append(_parse_step(number, raw, base))
            except _Problem as exc:
                key = f" ({exc.key})" if exc.key else ""
                raise JobError(
                    f"{self.where}step {number}{key}: {exc.message}",
                    help=exc.help,
                    step=number,
                    key=exc.key,
                ) from exc
        object.__setattr__(self, "steps", tuple(parsed))

    @property
    def where(self) -> str:
        return f"{self.path}: " if self.path else f"job {getattr(self, 'name', '?')!r}: "

    @property
    def tables(self) -> tuple[str, ...]:
        """Every lake table the job reads: its input, then joined tables."""
        joined = [s.args.table for s in self.steps if s.kind == "join"]
        return tuple(dict.fromkeys([self.input, *joined]))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: Path | None = None) -> JobSpec:
        where = f"{path}: " if path else ""
        try:
            _unknown_keys(list(data), ("job", "steps"), "the job file", "")
            job = data.get("job")
            if not isinstance(job, dict):
                raise _Problem("missing [job] table", help='[job] name = "...", input = "table"')
            _unknown_keys(list(job), ("name", "input", "output", "description"), "[job]", "job.")
            steps = data.get("steps", [])
            if not isinstance(steps, list):
                raise _Problem("steps must be an array of tables: use [[steps]]")
        except _Problem as exc:
            raise JobError(f"{where}{exc.message}", help=exc.help, key=exc.key) from exc
        return cls(
            name=job.get("name"),
            input=job.get("input"),
            output=job.get("output"),
            steps=steps,
            description=job.get("description", ""),
            path=path,
        )

    @classmethod
    def load(cls, path: str | Path) -> JobSpec:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise JobError(f"cannot read job file {path}: {exc.strerror}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise JobError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_dict(data, path=path.absolute())

    def canonical(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "input": self.input,
            "output": self.output,
            "steps": [s.canonical() for s in self.steps],
        }

    def error(self, step: Step, key: str, message: str, help: str | None = None) -> JobError:
        return JobError(
            f"{self.where}step {step.number} ({key}): {message}",
            help=help,
            step=step.number,
            key=key,
        )


def load_job(job: JobSpec | str | Path | Mapping[str, Any]) -> JobSpec:
    """A :class:`JobSpec` from a spec, a TOML path or a dict in TOML form."""
    if isinstance(job, JobSpec):
        return job
    if isinstance(job, Mapping):
        return JobSpec.from_dict(job)
    return JobSpec.load(job)


# -- validation against known schemas -------------------------------------------------
def validate(spec: JobSpec, schemas: Mapping[str, Sequence[str] | None]) -> None:
    """Check tables and columns before reading any data. ``schemas``: table -> columns."""
    if spec.input not in schemas:
        raise JobError(
            f"{spec.where}[job] input: unknown table {spec.input!r}"
            + _did_you_mean(spec.input, list(schemas)),
            help=f"tables: {_listing(sorted(schemas)) or 'none yet'}",
            key="job.input",
        )
    columns = schemas[spec.input]
    columns = list(columns) if columns is not None else None
    for step in spec.steps:
        columns = _CHECKS[step.kind](spec, step, columns, schemas)


def _need(spec, step, key, names, columns, table: str | None = None) -> None:
    if columns is None:
        return
    for name in names:
        if name not in columns:
            where = f" in table {table!r}" if table else ""
            raise spec.error(
                step,
                key,
                f"unknown column {name!r}{where}{_did_you_mean(name, columns)}",
                help=f"columns here: {_listing(columns)}",
            )


def _check_select(spec, step, columns, schemas):
    _need(spec, step, "select", step.args, columns)
    return list(step.args)


def _check_rename(spec, step, columns, schemas):
    _need(spec, step, "rename", step.args, columns)
    if columns is None:
        return None
    out = [step.args.get(c, c) for c in columns]
    clash = sorted({c for c in out if out.count(c) > 1})
    if clash:
        raise spec.error(step, "rename", f"renaming makes duplicate column(s): {', '.join(clash)}")
    return out


def _check_keys(key):
    def check(spec, step, columns, schemas):
        _need(spec, step, key, step.args, columns)
        return columns

    return check


def _check_filter(spec, step, columns, schemas):
    _need(spec, step, "filter", step.args.columns, columns)
    return columns


def _check_derive(spec, step, columns, schemas):
    for name, expr in step.args:
        _need(spec, step, f"derive.{name}", expr.columns, columns)
        if columns is not None and name not in columns:
            columns = [*columns, name]
    return columns


def _check_fill_null(spec, step, columns, schemas):
    if isinstance(step.args, dict):
        _need(spec, step, "fill_null", step.args, columns)
    return columns


def _check_dedupe(spec, step, columns, schemas):
    _need(spec, step, "dedupe", step.args or (), columns)
    return columns


def _check_join(spec, step, columns, schemas):
    join: Join = step.args
    if join.table not in schemas:
        raise spec.error(
            step,
            "join.table",
            f"unknown table {join.table!r}{_did_you_mean(join.table, list(schemas))}",
            help=f"tables: {_listing(sorted(schemas))}",
        )
    right = schemas[join.table]
    right = list(right) if right is not None else None
    key = "join.on" if join.left_on == join.right_on else "join.left_on"
    _need(spec, step, key, join.left_on, columns)
    _need(
        spec,
        step,
        "join.on" if key == "join.on" else "join.right_on",
        join.right_on,
        right,
        join.table,
    )
    _need(spec, step, "join.columns", join.columns or (), right, join.table)
    if columns is None or right is None:
        return None
    return join_columns(columns, right, join)


def join_columns(left: Sequence[str], right: Sequence[str], join: Join) -> list[str]:
    """The columns ``merge`` produces, suffixes included (pandas' rules)."""
    if join.columns is not None:
        right = list(dict.fromkeys([*join.right_on, *join.columns]))
    shared = {lk for lk, rk in zip(join.left_on, join.right_on, strict=True) if lk == rk}
    right_out = [c for c in right if c not in shared]
    overlap = (set(left) & set(right_out)) - shared
    left_sfx, right_sfx = join.suffixes
    return [f"{c}{left_sfx}" if c in overlap else c for c in left] + [
        f"{c}{right_sfx}" if c in overlap else c for c in right_out
    ]


def _check_group_by(spec, step, columns, schemas):
    _need(spec, step, "group_by", step.args, columns)
    _need(spec, step, "aggregate", [col for _, col, _ in step.options["aggregate"]], columns)
    return [*step.args, *(name for name, _, _ in step.options["aggregate"])]


def _check_sort(spec, step, columns, schemas):
    _need(spec, step, "sort", [c for c, _ in step.args], columns)
    return columns


_CHECKS: dict[str, Callable[..., list[str] | None]] = {
    "select": _check_select,
    "rename": _check_rename,
    "cast": _check_keys("cast"),
    "filter": _check_filter,
    "derive": _check_derive,
    "fill_null": _check_fill_null,
    "dedupe": _check_dedupe,
    "join": _check_join,
    "group_by": _check_group_by,
    "sort": _check_sort,
    "python": lambda spec, step, columns, schemas: None,  # its output columns are unknown
}


# -- execution ----------------------------------------------------------------------
def _checked_astype(frame: Any, dtypes: Mapping[str, str], number: int) -> Any:
    """``astype`` that refuses missing values for int/bool targets on every engine.

    pandas raises on them and cuDF keeps them as null ints: neither is silent here.
    Module-level, so Dask ships it to workers (and ``JobError`` pickles back).
    """
    for column, dtype in dtypes.items():
        if dtype in _NO_NULLS_TYPES:
            missing = int(frame[column].isna().sum())
            if missing:
                raise JobError(
                    f"step {number} (cast): column {column!r} has {missing} missing value(s); "
                    f"{dtype} cannot hold them",
                    help="add a fill_null step before the cast, or cast to float64",
                    step=number,
                    key="cast",
                )
    return frame.astype({c: "str" if t == "string" else t for c, t in dtypes.items()})


def _cast(frame, step, frames, engine):
    if engine.lazy:
        return frame.map_partitions(_checked_astype, step.args, step.number)
    return _checked_astype(frame, step.args, step.number)


def _filter(frame, step, frames, engine):
    mask = step.args.evaluate(frame, engine)
    if not _is_series(mask) or str(mask.dtype) not in ("bool", "boolean"):
        what = "a constant" if not _is_series(mask) else f"{mask.dtype} values"
        raise JobError(
            f"step {step.number} (filter): {step.args.source!r} gives {what}, not true/false",
            help="compare a column, e.g. dep_delay > 0",
            step=step.number,
            key="filter",
        )
    return frame[engine.definite(mask, False)]


def _derive(frame, step, frames, engine):
    for name, expr in step.args:
        frame = frame.assign(**{name: expr.evaluate(frame, engine)})
    return frame


def _dedupe(frame, step, frames, engine):
    kwargs: dict[str, Any] = {"subset": list(step.args) if step.args else None}
    kwargs["keep"] = step.options["keep"]
    if engine.lazy:  # one output partition keeps "first"/"last" in input order
        kwargs["split_out"] = 1 if step.args else True
    return frame.drop_duplicates(**kwargs)


def _join(frame, step, frames, engine):
    join: Join = step.args
    right = frames[join.table]
    if join.columns is not None:
        right = right[list(dict.fromkeys([*join.right_on, *join.columns]))]
    keys: dict[str, Any] = (
        {"on": list(join.left_on)}
        if join.left_on == join.right_on
        else {"left_on": list(join.left_on), "right_on": list(join.right_on)}
    )
    return frame.merge(right, how=join.how, suffixes=join.suffixes, **keys)


def _group_by(frame, step, frames, engine):
    named = {name: (column, func) for name, column, func in step.options["aggregate"]}
    return frame.groupby(list(step.args), dropna=True).agg(**named).reset_index()


def _sort(frame, step, frames, engine):
    by = [c for c, _ in step.args]
    ascending = [a for _, a in step.args]
    return frame.sort_values(by=by, ascending=ascending, na_position="last")


def _python(frame, step, frames, engine):
    py: PythonStep = step.args
    out = frame.map_partitions(py.func) if engine.lazy and py.partitionwise else py.func(frame)
    package = type(out).__module__.split(".")[0]
    if package != engine.frame_package or not hasattr(out, "columns"):
        raise JobError(
            f"step {step.number} (python): {py.ref} returned a {package}.{type(out).__name__} "
            f"on the {engine.name} engine, not a {engine.frame_package} DataFrame",
            help="return a DataFrame of the engine you were given (no silent conversion)",
            step=step.number,
            key="python",
        )
    return out


_RUNNERS: dict[str, Callable[[Any, Step, Mapping[str, Any], Engine], Any]] = {
    "select": lambda frame, step, frames, engine: frame[list(step.args)],
    "rename": lambda frame, step, frames, engine: frame.rename(columns=step.args),
    "cast": _cast,
    "filter": _filter,
    "derive": _derive,
    "fill_null": lambda frame, step, frames, engine: frame.fillna(step.args),
    "dedupe": _dedupe,
    "join": _join,
    "group_by": _group_by,
    "sort": _sort,
    "python": _python,
}


@dataclass(frozen=True)
class StepReport:
    number: int
    kind: str
    seconds: float
    rows: int | None  # None on Dask, where steps only build the graph


def run_steps(
    spec: JobSpec, frames: Mapping[str, Any], engine: Engine
) -> tuple[Any, tuple[StepReport, ...]]:
    """Apply every step to ``frames[spec.input]``; frames hold the engine's DataFrames."""
    validate(spec, {name: list(df.columns) for name, df in frames.items()})
    frame, reports = frames[spec.input], []
    for step in spec.steps:
        start = time.perf_counter()
        try:
            frame = _RUNNERS[step.kind](frame, step, frames, engine)
        except JobError as exc:  # raised by a step, which does not know the job's name
            raise JobError(
                spec.where + exc.message, help=exc.help, step=exc.step, key=exc.key
            ) from exc
        except Exception as exc:
            raise spec.error(
                step,
                step.kind,
                f"failed on the {engine.name} engine: {type(exc).__name__}: {exc}",
            ) from exc
        rows = None if engine.lazy else len(frame)
        reports.append(StepReport(step.number, step.kind, time.perf_counter() - start, rows))
    if not engine.lazy:
        frame = frame.reset_index(drop=True)
    return frame, tuple(reports)


def execute(
    job: JobSpec | str | Path | Mapping[str, Any],
    frames: Mapping[str, Any],
    *,
    engine: str | Engine = "pandas",
) -> Any:
    """Run a job on in-memory DataFrames (``{table: frame}``) and return the result.

    The frames must belong to ``engine``: pandas, cuDF, or dask DataFrames (for
    ``dask``/``dask-cudf``, whose result stays lazy: call ``.compute()``).
    """
    spec = load_job(job)
    engine = engine if isinstance(engine, Engine) else Engine(engine)
    return run_steps(spec, frames, engine)[0]


# -- the lake -----------------------------------------------------------------------
@dataclass(frozen=True)
class JobReport:
    name: str
    output: str
    engine: str
    content_hash: str
    snapshot_id: int
    n_rows: int
    skipped: bool  # spec and inputs unchanged since the live output: nothing ran
    seconds: float
    steps: tuple[StepReport, ...] = ()

    def summary(self) -> str:
        if self.skipped:
            return f"{self.name}: unchanged; {self.output} is current (snapshot {self.snapshot_id})"
        return (
            f"{self.name}: wrote {self.output} ({self.n_rows} rows) in snapshot "
            f"{self.snapshot_id} on {self.engine} in {self.seconds:.2f}s"
        )


def job_hash(spec: JobSpec, inputs: Mapping[str, TableInfo]) -> str:
    """The spec (normalised) plus the versions of the tables it reads."""
    payload = {
        "spec": spec.canonical(),
        "inputs": {
            name: {"version": info.version_id, "files": sorted(Path(f).name for f in info.files)}
            for name, info in sorted(inputs.items())
        },
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _live_hash(snapshot: Snapshot, source: str) -> str | None:
    for row in snapshot.sources.select(["source_uri", "content_hash", "status"]).to_pylist():
        if row["source_uri"] == source and row["status"] == "ok":
            return row["content_hash"]
    return None


def read_table(module: ModuleType, info: TableInfo) -> Any:
    """A lake table as a pandas or cuDF DataFrame (``module.read_parquet`` over its files)."""
    if info.files:
        return module.read_parquet(list(info.files))
    import pyarrow as pa

    def arrow_type(name: str) -> pa.DataType:
        try:
            return pa.type_for_alias(name)
        except ValueError:
            return pa.string()

    empty = pa.schema([(c, arrow_type(t)) for c, t in info.columns]).empty_table()
    return empty.to_pandas() if module.__name__ == "pandas" else module.DataFrame.from_arrow(empty)


def run_job(
    lake: Lake,
    job: JobSpec | str | Path | Mapping[str, Any],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    engine_module: ModuleType | None = None,
    partition_size: str | None = None,
) -> JobReport:
    """Run a table job over the lake's newest snapshot and commit its output table.

    ``workers=N`` runs it on a local Dask cluster of N processes (GPU workers on
    the GPU engine), ``scheduler="tcp://host:8786"`` on an existing cluster;
    ``partition_size`` ("64MiB") sets Dask's partition size there.
    ``engine_module`` (pandas or cudf) overrides the lake's engine. A job whose
    spec and input tables are unchanged since its output was written does nothing
    (a python step counts as changed when its own source changes, not what it calls).
    """
    start = time.perf_counter()
    spec = load_job(job)
    if workers is not None and scheduler is not None:
        raise JobError("give workers or scheduler, not both", help="--workers N | --scheduler ADDR")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise JobError(f"workers must be a positive integer, not {workers!r}")
    distributed = workers is not None or scheduler is not None
    if partition_size is not None and not distributed:
        raise JobError("partition_size applies to Dask runs", help="add workers or scheduler")
    snapshot = lake.snapshot()
    tables = snapshot.tables
    validate(spec, {name: [c for c, _ in info.columns] for name, info in tables.items()})
    source = f"job:{spec.name}"
    current = tables.get(spec.output)
    _check_output(spec, source, current)
    inputs = {name: tables[name] for name in spec.tables}
    digest = job_hash(spec, inputs)
    backend = engine_module.__name__ if engine_module is not None else lake.backend.name
    engine = engine_for(backend, distributed=distributed)
    if current is not None and _live_hash(snapshot, source) == digest:
        return JobReport(
            spec.name,
            spec.output,
            engine.name,
            digest,
            snapshot.snapshot_id,
            current.n_rows,
            skipped=True,
            seconds=time.perf_counter() - start,
        )
    if engine.lazy:
        from docframe.pipelines.dask_exec import run_on_dask

        result, steps = run_on_dask(
            spec,
            inputs,
            engine,
            workers=workers,
            scheduler=scheduler,
            partition_size=partition_size,
        )
    else:
        module = engine_module or engine.module()
        frames = {name: read_table(module, info) for name, info in inputs.items()}
        result, steps = run_steps(spec, frames, engine)
    snapshot_id = lake.write_table(spec.output, result, source=source, content_hash=digest)
    return JobReport(
        spec.name,
        spec.output,
        engine.name,
        digest,
        snapshot_id,
        len(result),
        skipped=False,
        seconds=time.perf_counter() - start,
        steps=steps,
    )


def _check_output(spec: JobSpec, source: str, current: TableInfo | None) -> None:
    """Refuse, before any work, an output name the lake would refuse after it."""
    from docframe.connectors.tables import table_name

    if table_name(spec.output) != spec.output:
        raise JobError(
            f"{spec.where}[job] output: {spec.output!r} is not a valid table name",
            help=f"use lower-case letters, digits and _, e.g. {table_name(spec.output)!r}",
            key="job.output",
        )
    if current is not None and current.source_uri != source:
        raise JobError(
            f"{spec.where}[job] output: table {spec.output!r} belongs to {current.source_uri}",
            help="choose another output name; a job only replaces tables it wrote",
            key="job.output",
        )
