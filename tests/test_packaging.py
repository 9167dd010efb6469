"""The install files agree: conda-env.yml carries every runtime dependency of pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# pyproject name -> what provides it in the conda (GPU) environment
CONDA_PROVIDES = {
    "torch": "pytorch-gpu",
    "pandas": "cudf",  # cudf pins the pandas it works with
    "numpy": "cudf",
    "dask": "dask-cudf",
    "distributed": "dask-cuda",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_conda_env_lists_every_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    conda = (ROOT / "conda-env.yml").read_text(encoding="utf-8")
    listed = {
        _name(line.strip().removeprefix("- "))
        for line in conda.splitlines()
        if line.strip().startswith("- ") and not line.strip().endswith(":")
    }
    missing = [
        dep
        for dep in map(_name, project["dependencies"])
        if CONDA_PROVIDES.get(dep, dep) not in listed
    ]
    assert missing == [], f"add to conda-env.yml: {missing}"


def test_the_c_reader_builds_against_the_pinned_pymupdf():
    """setup.py compiles against PyMuPDF's headers: the build requirement is the runtime pin."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    build = [r for r in data["build-system"]["requires"] if _name(r) == "pymupdf"]
    runtime = [r for r in data["project"]["dependencies"] if _name(r) == "pymupdf"]
    assert build and build == runtime
