"""Where a job's steps run: the table engine, and which one a backend gets.

:class:`Engine` names the DataFrame library (pandas or cuDF, each maybe on Dask)
and holds the few engine differences the step code must know, such as making a
boolean mask with missing values definite.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from docframe.errors import JobError
from docframe.pipelines.tablejob.problems import _did_you_mean

ENGINES = ("pandas", "cudf", "dask", "dask-cudf")


def _is_series(value: Any) -> bool:
    return hasattr(value, "dtype") and hasattr(value, "fillna")


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
