"""The expression language of ``filter`` and ``derive`` steps.

A portable subset of pandas syntax: parsed with :mod:`ast`, refused before any
data is read when it strays outside the subset, and evaluated as Series
operations on whichever engine runs the job rather than handed to
``DataFrame.query``/``eval`` (see the package docstring for why).
"""

from __future__ import annotations

import ast
import io
import operator
import re
import tokenize
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from docframe.backend import is_series
from docframe.errors import did_you_mean
from docframe.pipelines.tablejob.problems import _Problem

if TYPE_CHECKING:
    from docframe.backend import Engine


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
                + did_you_mean(func.attr, list(_STR_METHODS)),
                EXPRESSION_HELP,
            )
        if func.attr in _METHODS:
            return owner, func.attr, _METHODS
        raise _Problem(
            f"unsupported method .{func.attr}()" + did_you_mean(func.attr, list(_METHODS)),
            EXPRESSION_HELP,
        )
    name = ast.unparse(func)
    raise _Problem(
        f"unsupported function {name}()" + did_you_mean(name, _FUNCTIONS), EXPRESSION_HELP
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
            return ~engine.definite(value, False) if is_series(value) else not value
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
