"""Running the steps: one function per operation, written once for every engine.

The runners use only the API that pandas, cuDF and dask.dataframe share
(``merge``, ``groupby().agg(**named)``, ``astype``, ``fillna``, ...).
:func:`run_steps` validates the job against the frames, applies its steps in
order and times each; :func:`execute` runs a job on in-memory frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docframe.backend import Engine, frame_kind, is_series
from docframe.errors import JobError
from docframe.pipelines.tablejob.checks import validate
from docframe.pipelines.tablejob.operations import _NO_NULLS_TYPES, Join
from docframe.pipelines.tablejob.python_step import PythonStep
from docframe.pipelines.tablejob.spec import JobSpec, Step, load_job


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
    if not is_series(mask) or str(mask.dtype) not in ("bool", "boolean"):
        what = "a constant" if not is_series(mask) else f"{mask.dtype} values"
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
    kind = frame_kind(out)
    if kind is None or kind.package != engine.frame_package:
        got = f"{type(out).__module__.split('.')[0]}.{type(out).__name__}"  # wording only
        raise JobError(
            f"step {step.number} (python): {py.ref} returned a {got} "
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
