"""Table jobs over the lake: read the input tables, run the steps, commit the output.

:func:`run_job` does nothing when the job's content hash (:func:`job_hash`: the
normalised spec plus the versions of the tables it reads) matches its live
output, and hands Dask runs to :mod:`docframe.pipelines.dask_exec`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from docframe.backend import engine_for
from docframe.errors import JobError
from docframe.pipelines.tablejob.checks import validate
from docframe.pipelines.tablejob.projection import needed_columns
from docframe.pipelines.tablejob.spec import JobSpec, load_job
from docframe.pipelines.tablejob.steps import StepReport, run_steps
from docframe.pipelines.tablejob.tables import read_table

if TYPE_CHECKING:
    from docframe.lake.snapshot import Snapshot, TableInfo
    from docframe.lake.store import LakeStore


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


def run_job(
    store: LakeStore,
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
        raise JobError(
            f"workers must be a positive integer, not {workers!r}", help="e.g. --workers 4"
        )
    distributed = workers is not None or scheduler is not None
    if partition_size is not None and not distributed:
        raise JobError("partition_size applies to Dask runs", help="add workers or scheduler")
    snapshot = store.snapshot()
    tables = snapshot.tables
    validate(spec, {name: [c for c, _ in info.columns] for name, info in tables.items()})
    source = f"job:{spec.name}"
    current = tables.get(spec.output)
    _check_output(spec, source, current)
    inputs = {name: tables[name] for name in spec.tables}
    snapshot.require(*inputs)  # a damaged input segment: its one line, not a read error
    digest = job_hash(spec, inputs)
    backend = engine_module.__name__ if engine_module is not None else store.backend.name
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
        wanted = needed_columns(spec, {n: [c for c, _ in i.columns] for n, i in inputs.items()})
        frames = {
            name: read_table(module, info, wanted[name] if wanted else None)
            for name, info in inputs.items()
        }
        result, steps = run_steps(spec, frames, engine)
    from docframe.pipelines.table_writer import write_table

    snapshot_id = write_table(store, spec.output, result, source=source, content_hash=digest)
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
