"""Table jobs on Dask: the same steps, partitioned, on a local or a remote cluster.

``dask.dataframe`` implements the pandas API the steps are written against, so
:mod:`docframe.pipelines.tablejob` runs its step code unchanged on a dask
DataFrame. Dask's own backend switch (``dataframe.backend = "cudf"``) makes the
partitions cuDF frames on GPUs, with dask-cuda's ``LocalCUDACluster`` as the
local cluster. Nothing here is imported until a job asks for Dask.

Dask's ``dataframe.convert-string`` is turned off: it would re-type pandas'
string columns as ``string[pyarrow]``, whose comparisons with a missing value
give ``<NA>`` instead of False, so results (and dtypes) would differ from the
single-process run. With it off, partitions hold exactly the dtypes
``pandas.read_parquet`` gives.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe.backend import Engine
from docframe.errors import JobError, MissingDependencyError
from docframe.pipelines.tablejob.spec import JobSpec
from docframe.pipelines.tablejob.steps import StepReport, run_steps
from docframe.pipelines.tablejob.tables import read_table

if TYPE_CHECKING:
    from docframe.lake.snapshot import TableInfo

DASK_HINT = "pip install 'dask[dataframe]' distributed"
GPU_HINT = "pip install 'docframe[gpu-cu12]' (dask-cuda, dask-cudf; gpu-cu13 for CUDA 13)"


def _require(module: str, hint: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"Dask execution needs {module}, which is not installed", help=hint
        ) from exc


def dask_config(engine: Engine) -> Any:
    """The Dask settings a job runs under (a context manager)."""
    dask = _require("dask", DASK_HINT)
    return dask.config.set(
        {"dataframe.backend": "cudf" if engine.gpu else "pandas", "dataframe.convert-string": False}
    )


@contextmanager
def dask_client(
    engine: Engine,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
) -> Iterator[Any]:
    """A ``distributed.Client``: a fresh local cluster of ``workers`` processes, or one at
    ``scheduler``. Yields None (Dask's local threads) when neither is given.

    The client is Dask's default while the job runs, so work Dask does while building
    the graph (the quantiles ``sort_values`` needs) runs on the cluster too. Whatever
    this starts, it closes; the previous default comes back.
    """
    if workers is None and scheduler is None:
        yield None
        return
    distributed = _require("distributed", DASK_HINT)
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise JobError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                help="start one with `dask scheduler` (and `dask worker ADDRESS`), "
                "or run locally with --workers N",
            ) from exc
        with client:
            yield client
        return
    if engine.gpu:
        dask_cuda = _require("dask_cuda", GPU_HINT)
        cluster = dask_cuda.LocalCUDACluster(n_workers=workers, dashboard_address=":0")
    else:
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


def ship_local_modules(spec: JobSpec, client: Any) -> list[str]:
    """Upload the python steps' modules that live beside the job file to every worker.

    Workers are other processes (maybe other hosts) that cannot import them by name;
    ``Client.upload_file`` installs the file on current and future workers. Returns
    the files sent.
    """
    if spec.path is None:
        return []
    base, sent = spec.path.parent.resolve(), []
    for step in spec.steps:
        if step.kind != "python":
            continue
        module = sys.modules.get(getattr(step.args.func, "__module__", ""))
        origin = Path(getattr(module, "__file__", None) or "/").resolve()
        if not origin.is_relative_to(base) or str(origin) in sent:
            continue
        if origin.name == "__init__.py":
            raise JobError(
                f"{spec.where}step {step.number} (python): package {module.__name__} beside the "
                "job file cannot be sent to Dask workers",
                help="install the package on the workers, or make it a single module file",
                step=step.number,
                key="python",
            )
        client.upload_file(str(origin))
        sent.append(str(origin))
    return sent


def read_frames(
    inputs: Mapping[str, TableInfo], engine: Engine, *, partition_size: str | None = None
) -> dict[str, Any]:
    """Lake tables as dask DataFrames. Dask groups Parquet row groups into partitions of
    about ``partition_size`` bytes ("64MiB"; default: Dask's, ~128-256 MiB)."""
    dd = _require("dask.dataframe", DASK_HINT)
    options = {} if partition_size is None else {"blocksize": partition_size}
    frames = {}
    for name, info in inputs.items():
        if info.files:
            frames[name] = dd.read_parquet(list(info.files), **options)
        else:  # a table without rows: its schema only
            frames[name] = from_frame(read_table(engine.module(), info), engine, npartitions=1)
    return frames


def from_frame(frame: Any, engine: Engine, *, npartitions: int) -> Any:
    """An in-memory pandas or cuDF frame as a dask DataFrame."""
    if engine.gpu:
        dask_cudf = _require("dask_cudf", GPU_HINT)
        return dask_cudf.from_cudf(frame, npartitions=npartitions)
    dd = _require("dask.dataframe", DASK_HINT)
    return dd.from_pandas(frame, npartitions=npartitions)


def compute(
    spec: JobSpec,
    frames: Mapping[str, Any],
    engine: Engine,
    *,
    client: Any = None,
) -> tuple[Any, tuple[StepReport, ...]]:
    """Build the job's graph over dask ``frames`` and compute it into one pandas/cuDF frame."""
    lazy, steps = run_steps(spec, frames, engine)
    start = time.perf_counter()
    try:
        result = client.compute(lazy).result() if client is not None else lazy.compute()
    except JobError as exc:  # raised on a worker by a step (e.g. cast), pickled back
        raise JobError(spec.where + exc.message, help=exc.help, step=exc.step, key=exc.key) from exc
    except Exception as exc:
        raise JobError(
            f"{spec.where}failed on the {engine.name} engine while computing: "
            f"{type(exc).__name__}: {exc}",
            help="rerun without --workers/--scheduler to see which step fails",
        ) from exc
    done = StepReport(len(spec.steps) + 1, "compute", time.perf_counter() - start, len(result))
    return result.reset_index(drop=True), (*steps, done)


def run_on_dask(
    spec: JobSpec,
    inputs: Mapping[str, TableInfo],
    engine: Engine,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    partition_size: str | None = None,
) -> tuple[Any, tuple[StepReport, ...]]:
    """Read the input tables with ``dask.dataframe.read_parquet``, run, compute."""
    with dask_config(engine), dask_client(engine, workers=workers, scheduler=scheduler) as client:
        if client is not None:
            ship_local_modules(spec, client)
        frames = read_frames(inputs, engine, partition_size=partition_size)
        return compute(spec, frames, engine, client=client)
