"""Checking a job against its tables' columns before any data is read.

:func:`validate` walks the steps with the columns each one leaves (``None`` once
they cannot be known, after a python step) and reports unknown tables and
columns with a did-you-mean. One ``_check_<operation>`` per operation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from docframe.errors import JobError, did_you_mean
from docframe.pipelines.tablejob.operations import Join
from docframe.pipelines.tablejob.problems import _listing
from docframe.pipelines.tablejob.spec import JobSpec


def validate(spec: JobSpec, schemas: Mapping[str, Sequence[str] | None]) -> None:
    """Check tables and columns before reading any data. ``schemas``: table -> columns."""
    if spec.input not in schemas:
        raise JobError(
            f"{spec.where}[job] input: unknown table {spec.input!r}"
            + did_you_mean(spec.input, list(schemas)),
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
                f"unknown column {name!r}{where}{did_you_mean(name, columns)}",
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
            f"unknown table {join.table!r}{did_you_mean(join.table, list(schemas))}",
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
