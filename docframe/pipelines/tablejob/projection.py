"""Read only the columns a job can use: the projection pandas users write by hand.

A job that narrows its rows to named columns (a ``select`` or a ``group_by``)
before anything that needs every column (a ``python`` step, or ``dedupe = true``
over all columns) cannot use columns it never mentions, so they need not be read.
The analysis over-approximates — every string in a step that names a column of
an input table counts, plus the un-suffixed names behind ``x_y``-style join
suffixes — so reading a superset is the only possible error, never a missing
column. Jobs it cannot reason about read everything, as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from docframe.pipelines.tablejob.expressions import Expr
from docframe.pipelines.tablejob.operations import Join
from docframe.pipelines.tablejob.spec import JobSpec


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Expr):
        yield from value.columns
    elif isinstance(value, Join):
        yield from (*value.left_on, *value.right_on, *(value.columns or ()))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def needed_columns(spec: JobSpec, columns: Mapping[str, list[str]]) -> dict[str, list[str]] | None:
    """table -> the columns to read (in table order), or None to read every column.

    A table may be projected when a narrowing step (select, group_by) comes after
    the point where it enters the job (step 0 for the input, its join for others)
    and no step between the two may use every column (python, dedupe over all columns).
    """
    steps = list(spec.steps)
    everything = [
        i
        for i, s in enumerate(steps)
        if s.kind == "python" or (s.kind == "dedupe" and s.args is None)
    ]
    narrowing = [i for i, s in enumerate(steps) if s.kind in ("select", "group_by")]
    if not narrowing:
        return None
    referenced: set[str] = set()
    for step in steps:
        referenced.update(_strings(step.args))
        referenced.update(_strings(step.options))
    for name in list(referenced):  # "year_x" or "year_built" after a join may mean "year"
        for step in steps:
            if isinstance(step.args, Join):
                for suffix in step.args.suffixes:
                    if suffix and name.endswith(suffix):
                        referenced.add(name[: -len(suffix)])
    entry = {spec.input: -1}
    for i, step in enumerate(steps):
        if isinstance(step.args, Join):
            entry.setdefault(step.args.table, i)
    out: dict[str, list[str]] = {}
    for table, cols in columns.items():
        start = entry.get(table, -1)
        first = min((n for n in narrowing if n > start), default=None)
        if first is None or any(start < i < first for i in everything):
            out[table] = list(cols)  # its columns may reach the output, or a step uses them all
        else:
            out[table] = [c for c in cols if c in referenced] or list(cols[:1])
    return out
