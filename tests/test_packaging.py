"""The install files agree: conda-env.yml carries every runtime dependency of pyproject.toml."""

from __future__ import annotations

import re
import subprocess
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


# --- one RAPIDS release everywhere ------------------------------------------------------------
RAPIDS_PACKAGES = ("cudf", "cuvs", "dask-cudf", "dask-cuda")  # versioned by the RAPIDS release
GPU_CHECK = ROOT / "scripts" / "gpu_check.sh"


def _rapids_base(name: str) -> str | None:
    base = re.sub(r"-cu1\d$", "", name)
    return base if base in RAPIDS_PACKAGES else None


def _gpu_check_script() -> tuple[str, list[str]]:
    """``RAPIDS_RELEASE`` and the ``packages=(...)`` specs of scripts/gpu_check.sh, expanded."""
    text = GPU_CHECK.read_text(encoding="utf-8")
    release = re.search(r"^RAPIDS_RELEASE=(\S+)$", text, re.M)
    block = re.search(r"^packages=\((.*?)\)$", text, re.M | re.S)
    assert release and block, "gpu_check.sh: RAPIDS_RELEASE=... and packages=(...) expected"
    specs = [
        s.strip('"').replace("${RAPIDS_RELEASE}", release.group(1)) for s in block.group(1).split()
    ]
    return release.group(1), specs


def test_one_rapids_release_in_conda_pyproject_gpu_check_and_the_code():
    """conda-env.yml, the pyproject gpu extras (and its comments), scripts/gpu_check.sh and
    the release the cuVS modules say they are written against name the same RAPIDS release."""
    found: dict[str, set[str]] = {}

    def saw(where: str, release: str) -> None:
        found.setdefault(release, set()).add(where)

    for line in (ROOT / "conda-env.yml").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*-\s*([a-z0-9-]+)=(\d+\.\d+)\s*$", line)
        if m and _rapids_base(m.group(1)):
            saw(f"conda-env.yml {m.group(1)}", m.group(2))
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    extras = tomllib.loads(text)["project"]["optional-dependencies"]
    for extra in ("gpu-cu12", "gpu-cu13"):
        for spec in extras[extra]:
            if _rapids_base(_name(spec)):
                m = re.fullmatch(r"[a-z0-9-]+==(\d+\.\d+)\.\*", spec)
                assert m, f"pyproject {extra}: pin {spec!r} to one release (NAME==YY.MM.*)"
                saw(f"pyproject {extra} {_name(spec)}", m.group(1))
    for m in re.finditer(r"RAPIDS (\d+\.\d+)", text):
        saw("pyproject comment", m.group(1))
    release, specs = _gpu_check_script()
    saw("gpu_check.sh RAPIDS_RELEASE", release)
    for path in sorted((ROOT / "docframe" / "index").glob("cuvs_*.py")):
        for m in re.finditer(r"cu[vV][sS](?:-cu12)? (\d+\.\d+)", path.read_text(encoding="utf-8")):
            saw(path.name, m.group(1))
    assert len(found) == 1, f"RAPIDS releases differ: {found}"
    assert any(w.startswith("conda-env.yml") for w in next(iter(found.values())))
    # gpu_check.sh installs exactly the gpu-cu12 extra (plus its own tools)
    assert specs == [*extras["gpu-cu12"], "numpy", "pytest"]


def _run_gpu_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """gpu_check.sh with a venv that does not exist yet and a disk it finds too small."""
    import os

    environ = {**os.environ, "GPU_VENV": str(tmp_path / "venv"), "GPU_CHECK_MIN_FREE_GB": "999999"}
    environ.pop("GPU_CHECK_ALLOW_SKIP", None)
    return subprocess.run(
        ["bash", str(GPU_CHECK)], env={**environ, **env}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_gpu_check_that_cannot_run_fails_unless_a_skip_is_allowed(tmp_path):
    """Short of disk, nothing is checked: that is a failure (CI must not pass silently),
    unless GPU_CHECK_ALLOW_SKIP=1 accepts the skip; nothing is installed either way."""
    refused = _run_gpu_check(tmp_path)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "FAILED: nothing was checked" in refused.stderr
    assert "GPU_CHECK_ALLOW_SKIP=1" in refused.stderr.splitlines()[-1]
    allowed = _run_gpu_check(tmp_path, GPU_CHECK_ALLOW_SKIP="1")
    assert allowed.returncode == 0 and "SKIPPED (GPU_CHECK_ALLOW_SKIP=1)" in allowed.stdout
    assert not (tmp_path / "venv").exists()
