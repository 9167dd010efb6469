# docframe — the two set-up commands are `make demo` and `make test`.
# Everything installs into ./.venv from the project's own files (pyproject.toml).

PYTHON    ?= python3
VENV      ?= .venv
BIN       := $(VENV)/bin
DEMO_LAKE ?= demo-lake
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.DEFAULT_GOAL := help
.PHONY: help install demo test lint format gpu-check bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install docframe (CPU profile) with dev tools

demo: install  ## ingest the bundled sample corpus into a fresh lake, then search and query it
	rm -rf $(DEMO_LAKE)
	$(BIN)/docframe --lake $(DEMO_LAKE) ingest examples/sample-corpus
	$(BIN)/docframe --lake $(DEMO_LAKE) search "how do scientists know a volcano is about to erupt" -k 3
	$(BIN)/docframe --lake $(DEMO_LAKE) sql "SELECT d.title, count(*) AS chunks, sum(c.n_tokens) AS tokens FROM chunks c JOIN documents d USING (doc_id) GROUP BY d.title ORDER BY chunks DESC LIMIT 5"
	$(BIN)/docframe --lake $(DEMO_LAKE) sql "SELECT carrier, count(*) AS shipments, count(*) FILTER (delivered_date > promised_date) AS late, max(delivered_date - promised_date) AS worst_days_late FROM shipments GROUP BY carrier ORDER BY late DESC"

lint: install  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install  ## apply ruff formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint  ## install what tests need and run the suite
	$(BIN)/python -m pytest

gpu-check:  ## check docframe's RAPIDS calls against the real wheels (own venv, no GPU needed)
	bash scripts/gpu_check.sh

bench: install  ## ingest+search benchmark against raw sentence-transformers+faiss (SciFact)
	$(BIN)/python benchmarks/bench_ingest_search.py --docs 1000

clean:  ## remove the demo lake and caches (keeps the venvs)
	rm -rf $(DEMO_LAKE) .pytest_cache .ruff_cache
