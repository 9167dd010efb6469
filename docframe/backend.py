"""CPU/GPU engine selection: decided once, explained, never silently changed.

Two levels, as in dask (``dataframe.backend`` picks how data is made, a type
dispatch routes work on data that exists):

- :func:`resolve` turns ``auto | cpu | gpu`` into a :class:`Backend`: the torch
  device (cpu | cuda), the vector-index family (faiss | cuvs) and the table
  :class:`Engine` (pandas | cudf, each maybe on Dask) the rest of docframe uses.
  Detection only looks for a device and for installed packages
  (``importlib.util.find_spec``); it never imports cudf, cupy or torch, so
  ``import docframe`` stays light and never initialises CUDA.
- :func:`frame_kind` says which engine made a frame (pandas, cuDF, Dask, Arrow)
  and how it converts; the GPU and Dask kinds register lazily, the first time
  one of their objects is seen.

``auto`` picks the GPU only when a device *and* the RAPIDS packages are present,
and records why. ``gpu`` without them is an error, not a fallback.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from docframe.config import requested_engine
from docframe.errors import (
    EngineError,
    GPUUnavailableError,
    JobError,
    MissingDependencyError,
    did_you_mean,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from dask.utils import Dispatch

EngineChoice = Literal["auto", "cpu", "gpu"]
ENGINES: tuple[str, ...] = ("auto", "cpu", "gpu")
TABLE_ENGINES: tuple[str, ...] = ("pandas", "cudf", "dask", "dask-cudf")
GPU_PACKAGES: tuple[str, ...] = ("cudf", "cupy", "cuvs")
GPU_EXTRA_HINT = "pip install 'docframe[gpu-cu12]' (or gpu-cu13 for CUDA 13)"


@dataclass(frozen=True)
class Backend:
    """The resolved engine: what runs where, and why it was chosen."""

    name: Literal["cpu", "gpu"]
    requested: str
    reason: str

    @property
    def torch_device(self) -> str:
        return "cuda" if self.name == "gpu" else "cpu"

    @property
    def index_family(self) -> Literal["faiss", "cuvs"]:
        return "cuvs" if self.name == "gpu" else "faiss"

    def table_engine(self, *, distributed: bool = False) -> Engine:
        """pandas on the CPU, cuDF on the GPU; their Dask forms when ``distributed``."""
        return engine_for(self.name, distributed=distributed)

    def table_module(self) -> ModuleType:
        """pandas on the CPU, cudf on the GPU: code written once against their shared API."""
        return self.table_engine().module()

    def array_module(self) -> ModuleType:
        """numpy on the CPU, cupy on the GPU."""
        return self.table_engine().array_module()

    def describe(self) -> str:
        return f"engine={self.name} (requested {self.requested}): {self.reason}"


def gpu_device_visible() -> tuple[bool, str]:
    """Is an NVIDIA GPU visible to this process? Returns (yes/no, evidence)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False, f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir() and any(gpus.iterdir()):
        return True, f"{sum(1 for _ in gpus.iterdir())} GPU(s) under {gpus}"
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"nvidia-smi failed: {exc}"
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("GPU ")]
        if out.returncode == 0 and lines:
            return True, f"nvidia-smi lists {len(lines)} GPU(s)"
        return False, f"nvidia-smi found no GPU (exit {out.returncode})"
    return False, "no NVIDIA driver (no /proc/driver/nvidia/gpus, no nvidia-smi)"


def gpu_module(name: str, needed_by: str) -> ModuleType:
    """The RAPIDS module ``name`` (cudf, cupy...), or an error naming what needed it and
    the extra that installs it: a CPU-only install meets ``pip install
    'docframe[gpu-cu12]'``, not ``ModuleNotFoundError: No module named 'cudf'``."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{needed_by} needs {name!r}, which is not installed", help=GPU_EXTRA_HINT
        ) from exc


def missing_gpu_packages() -> list[str]:
    return [name for name in GPU_PACKAGES if importlib.util.find_spec(name) is None]


def resolve(requested: str | None = None) -> Backend:
    """Resolve ``auto | cpu | gpu`` (argument, else ``DOCFRAME_ENGINE``, else auto)."""
    choice = (requested or requested_engine() or "auto").strip().lower()
    if choice not in ENGINES:
        raise EngineError(
            f"unknown engine {choice!r}; valid engines: {', '.join(ENGINES)}",
            help="pass --engine auto|cpu|gpu or set DOCFRAME_ENGINE",
        )
    if choice == "cpu":
        return Backend("cpu", choice, "CPU requested explicitly")
    has_gpu, evidence = gpu_device_visible()
    missing = missing_gpu_packages()
    if choice == "gpu":
        if not has_gpu:
            raise GPUUnavailableError(
                f"--engine gpu: no usable GPU on this machine ({evidence})",
                help="use --engine cpu or --engine auto",
            )
        if missing:
            raise GPUUnavailableError(
                f"--engine gpu: RAPIDS packages not installed: {', '.join(missing)}",
                help=GPU_EXTRA_HINT,
            )
        return Backend("gpu", choice, f"GPU requested; {evidence}; RAPIDS present")
    if has_gpu and not missing:
        return Backend("gpu", choice, f"{evidence} and RAPIDS packages installed")
    if has_gpu:
        why = f"{evidence}, but RAPIDS packages missing ({', '.join(missing)}): {GPU_EXTRA_HINT}"
    else:
        why = evidence
    return Backend("cpu", choice, f"chose CPU: {why}")


# -- table engines: where a job's steps run --------------------------------------------


def is_series(value: Any) -> bool:
    """A column of any engine (pandas, cuDF or Dask Series), not a Python scalar."""
    return hasattr(value, "dtype") and hasattr(value, "fillna")


@dataclass(frozen=True)
class Engine:
    """Where table code runs: ``pandas``, ``cudf``, ``dask`` (pandas partitions) or
    ``dask-cudf``, and the few engine differences code written once must know, such
    as making a boolean mask with missing values definite.

    A :class:`Backend` names its engine (:meth:`Backend.table_engine`); a table job
    may also name one (``execute(..., engine="dask")``), hence :class:`JobError`.
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in TABLE_ENGINES:
            raise JobError(
                f"unknown table engine {self.name!r}{did_you_mean(self.name, TABLE_ENGINES)}",
                help=f"valid engines: {', '.join(TABLE_ENGINES)}",
            )

    @property
    def gpu(self) -> bool:
        return self.name in ("cudf", "dask-cudf")

    @property
    def lazy(self) -> bool:
        return self.name.startswith("dask")

    @property
    def frame_package(self) -> str:
        """The :attr:`FrameKind.package` of this engine's frames (dask-cuDF's are Dask's)."""
        return "dask" if self.lazy else self.name

    def module(self) -> ModuleType:
        """pandas or cudf: the in-memory frames (Dask's partitions) of this engine."""
        if self.gpu:
            return gpu_module("cudf", f"the {self.name} engine")
        return importlib.import_module("pandas")

    def array_module(self) -> ModuleType:
        """numpy or cupy, beside :meth:`module`."""
        if self.gpu:
            return gpu_module("cupy", f"the {self.name} engine")
        return importlib.import_module("numpy")

    def from_arrow(self, table: pa.Table) -> Any:
        """An Arrow table as an in-memory frame of :meth:`module` (pandas or cuDF)."""
        if not self.gpu:
            return table.to_pandas()
        return self.module().DataFrame.from_arrow(table)

    def definite(self, mask: Any, missing: bool) -> Any:
        """A boolean mask without missing values (missing -> ``missing``)."""
        if not is_series(mask):
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


def available_engines() -> tuple[str, ...]:
    """The engines this machine can run: pandas, dask if installed, cuDF on a usable GPU."""
    have = importlib.util.find_spec
    engines = ["pandas"]
    if have("dask") is not None and have("dask.dataframe") is not None:
        engines.append("dask")
    if resolve("auto").name == "gpu":
        engines.append("cudf")
        if "dask" in engines and have("dask_cudf") is not None:
            engines.append("dask-cudf")
    return tuple(engines)


# -- frames: which engine made this object, and converting it --------------------------


@dataclass(frozen=True)
class FrameKind:
    """What a DataFrame is, by type: its engine's package and its two conversions."""

    package: str  # "pandas" | "cudf" | "dask" | "arrow": compare with Engine.frame_package
    to_pandas: Callable[[Any], pd.DataFrame]
    # None where the frame is a plan, not data (Dask): compute it first
    to_arrow: Callable[[Any], pa.Table] | None


def frame_kind(obj: Any) -> FrameKind | None:
    """The :class:`FrameKind` of a pandas, cuDF, Dask (dask-cuDF too) or Arrow table, or
    None for anything else (a Series, a list, another library's frame).

    One ``dask.utils.Dispatch`` on the object's type, so subclasses resolve through
    their bases and cuDF is registered only once a cuDF object exists: nothing here
    imports cudf, and callers never compare module names.
    """
    return _kinds()(obj)


@functools.cache
def _kinds() -> Dispatch:
    from dask.utils import Dispatch

    kinds = Dispatch("frame_kind")
    kinds.register(object, lambda obj: None)
    kinds.register_lazy("pandas", _register_pandas)
    kinds.register_lazy("pyarrow", _register_arrow)
    kinds.register_lazy("cudf", _register_cudf)
    kinds.register_lazy("dask", _register_dask)
    return kinds


def _register(cls: type, kind: FrameKind) -> None:
    _kinds().register(cls, lambda obj: kind)


def _register_pandas() -> None:
    import pandas as pd
    import pyarrow as pa

    def to_arrow(frame: pd.DataFrame) -> pa.Table:
        return pa.Table.from_pandas(frame, preserve_index=False)

    _register(pd.DataFrame, FrameKind("pandas", lambda frame: frame, to_arrow))


def _register_arrow() -> None:
    import pyarrow as pa

    def batch_to_arrow(batch: pa.RecordBatch) -> pa.Table:
        return pa.Table.from_batches([batch])

    def to_pandas(data: pa.Table | pa.RecordBatch) -> pd.DataFrame:
        return data.to_pandas()

    _register(pa.Table, FrameKind("arrow", to_pandas, lambda table: table))
    _register(pa.RecordBatch, FrameKind("arrow", to_pandas, batch_to_arrow))


def _register_cudf() -> None:
    import cudf

    def to_arrow(frame: cudf.DataFrame) -> pa.Table:
        return frame.to_arrow(preserve_index=False)

    def to_pandas(frame: cudf.DataFrame) -> pd.DataFrame:
        return frame.to_pandas()

    _register(cudf.DataFrame, FrameKind("cudf", to_pandas, to_arrow))


def _register_dask() -> None:
    try:
        import dask.dataframe as dd
    except ImportError:  # dask without its dataframe extra makes no DataFrames
        return

    def to_pandas(frame: dd.DataFrame) -> pd.DataFrame:
        data = frame.compute()  # pandas, or cuDF under dask-cuDF
        return _kinds()(data).to_pandas(data)

    _register(dd.DataFrame, FrameKind("dask", to_pandas, None))
