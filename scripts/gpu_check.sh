#!/usr/bin/env bash
# Verify docframe's GPU code against the real RAPIDS Python APIs, without a GPU.
#
# Why a separate venv: the RAPIDS CUDA-12 wheels pin pandas (<3.1) and other
# libraries differently from docframe's CPU install, so they live in .venv-gpu,
# never in the main .venv. The wheels import fine without a driver; only calls
# that touch the device fail, and gpu_check.py makes none.
#
# The wheels are pinned to the RAPIDS release docframe's GPU code is written against:
# the same pins as pyproject.toml's gpu-cu12 extra and conda-env.yml (one release
# everywhere; tests/test_packaging.py checks it). A newer release is a deliberate
# change of all three, checked here first.
#
# A run that cannot check is a failure, not a pass: when the disk cannot hold the
# wheels the script exits 3 unless GPU_CHECK_ALLOW_SKIP=1 says a skip is acceptable.
#
# Usage: scripts/gpu_check.sh            (creates .venv-gpu on first run, ~3.6 GB)
#        GPU_VENV=/path scripts/gpu_check.sh
#        GPU_CHECK_ALLOW_SKIP=1 scripts/gpu_check.sh   (exit 0 with SKIPPED when short of disk)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${GPU_VENV:-$repo/.venv-gpu}"
RAPIDS_RELEASE=26.10
packages=(
    "cudf-cu12==${RAPIDS_RELEASE}.*"
    "cuvs-cu12==${RAPIDS_RELEASE}.*"
    "dask-cudf-cu12==${RAPIDS_RELEASE}.*"
    "cupy-cuda12x>=13"
    "dask-cuda==${RAPIDS_RELEASE}.*"
    numpy
    pytest
)
min_free_gb="${GPU_CHECK_MIN_FREE_GB:-10}"  # the wheels take about 6 GB installed, plus pip's cache

if [[ ! -x "$venv/bin/python" ]]; then
    # refuse clearly rather than fail half-way through the install
    disk="$(dirname "$venv")"
    [[ -d "$disk" ]] || disk="$repo"
    free_gb=$(df -Pk "$disk" | awk 'NR==2 {print int($4 / 1048576)}')
    if (( free_gb < min_free_gb )); then
        why="only ${free_gb} GB free under $disk; the RAPIDS ${RAPIDS_RELEASE} wheels need ~${min_free_gb} GB"
        if [[ "${GPU_CHECK_ALLOW_SKIP:-}" == 1 ]]; then
            echo "gpu_check: SKIPPED (GPU_CHECK_ALLOW_SKIP=1): $why"
            exit 0
        fi
        echo "gpu_check: FAILED: nothing was checked: $why" >&2
        echo "help: free disk space, point GPU_VENV at a larger disk, or set GPU_CHECK_ALLOW_SKIP=1 to accept the skip" >&2
        exit 3
    fi
    echo "gpu_check: creating $venv"
    python3 -m venv "$venv"
fi

# pip is a no-op when everything is already satisfied, so re-runs are fast.
start=$(date +%s)
echo "gpu_check: installing ${packages[*]} into $venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "${packages[@]}"
echo "gpu_check: install step took $(($(date +%s) - start))s"

export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
exec "$venv/bin/python" "$repo/scripts/gpu_check.py" "$@"
