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

Modules, lowest first: ``problems`` (wording spec problems), ``expressions``
(the ``filter``/``derive`` language),
``python_step`` and ``operations`` (each operation's arguments), ``spec``
(:class:`JobSpec`, :func:`load_job`), ``checks`` (:func:`validate`), ``steps``
(:func:`run_steps`, :func:`execute`) and ``run`` (:func:`run_job` on the lake).
This package re-exports the names callers use; :class:`JobError` lives in
:mod:`docframe.errors`, and :class:`Engine` (with :func:`engine_for` and the engine
names, ``ENGINES``) in :mod:`docframe.backend`, the one engine object every layer shares.
"""

from __future__ import annotations

from docframe.backend import TABLE_ENGINES as ENGINES
from docframe.backend import Engine, engine_for
from docframe.errors import JobError
from docframe.pipelines.tablejob.checks import join_columns, validate
from docframe.pipelines.tablejob.expressions import EXPRESSION_HELP, Expr
from docframe.pipelines.tablejob.operations import (
    AGGREGATIONS,
    CAST_TYPES,
    JOIN_HOWS,
    JOIN_KEYS,
    Join,
)
from docframe.pipelines.tablejob.python_step import PythonStep
from docframe.pipelines.tablejob.run import JobReport, job_hash, run_job
from docframe.pipelines.tablejob.spec import FORMAT_VERSION, STEP_OPTIONS, JobSpec, Step, load_job
from docframe.pipelines.tablejob.steps import StepReport, execute, run_steps
from docframe.pipelines.tablejob.tables import read_table

__all__ = [
    "AGGREGATIONS",
    "CAST_TYPES",
    "ENGINES",
    "EXPRESSION_HELP",
    "FORMAT_VERSION",
    "JOIN_HOWS",
    "JOIN_KEYS",
    "STEP_OPTIONS",
    "Engine",
    "Expr",
    "Join",
    "JobError",
    "JobReport",
    "JobSpec",
    "PythonStep",
    "Step",
    "StepReport",
    "engine_for",
    "execute",
    "job_hash",
    "join_columns",
    "load_job",
    "read_table",
    "run_job",
    "run_steps",
    "validate",
]
