"""CPU/GPU engine selection: decided once, explained, never silently changed.

The engine decides how data is *made*: which table module (pandas | cudf), array
module (numpy | cupy), torch device (cpu | cuda) and vector-index family
(faiss | cuvs) the rest of docframe uses. Detection only looks for a device and
for installed packages (``importlib.util.find_spec``); it never imports cudf,
cupy or torch, so ``import docframe`` stays light and never initialises CUDA.

``auto`` picks the GPU only when a device *and* the RAPIDS packages are present,
and records why. ``gpu`` without them is an error, not a fallback.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

from docframe.errors import EngineError, GPUUnavailableError

Engine = Literal["auto", "cpu", "gpu"]
ENGINES: tuple[str, ...] = ("auto", "cpu", "gpu")
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

    def table_module(self) -> ModuleType:
        """pandas on the CPU, cudf on the GPU: code written once against their shared API."""
        return importlib.import_module("cudf" if self.name == "gpu" else "pandas")

    def array_module(self) -> ModuleType:
        """numpy on the CPU, cupy on the GPU."""
        return importlib.import_module("cupy" if self.name == "gpu" else "numpy")

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


def missing_gpu_packages() -> list[str]:
    return [name for name in GPU_PACKAGES if importlib.util.find_spec(name) is None]


def resolve(requested: str | None = None) -> Backend:
    """Resolve ``auto | cpu | gpu`` (argument, else ``DOCFRAME_ENGINE``, else auto)."""
    choice = (requested or os.environ.get("DOCFRAME_ENGINE") or "auto").strip().lower()
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
