#!/usr/bin/env bash
# Verify docframe's GPU code against the real RAPIDS Python APIs, without a GPU.
#
# Why a separate venv: the RAPIDS CUDA-12 wheels pin pandas (<3.1) and other
# libraries differently from docframe's CPU install, so they live in .venv-gpu,
# never in the main .venv. The wheels import fine without a driver; only calls
# that touch the device fail, and gpu_check.py makes none.
#
# Usage: scripts/gpu_check.sh            (creates .venv-gpu on first run, ~3.6 GB)
#        GPU_VENV=/path scripts/gpu_check.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${GPU_VENV:-$repo/.venv-gpu}"
packages=(cudf-cu12 cuvs-cu12 dask-cudf-cu12 dask-cuda cupy-cuda12x numpy pytest)

if [[ ! -x "$venv/bin/python" ]]; then
    # the wheels take about 6 GB installed; refuse clearly rather than fail half-way
    free_gb=$(df -Pk "$repo" | awk 'NR==2 {print int($4 / 1048576)}')
    if (( free_gb < 10 )); then
        echo "gpu_check: SKIPPED: only ${free_gb} GB free under $repo; the RAPIDS wheels need ~10 GB"
        exit 0
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
