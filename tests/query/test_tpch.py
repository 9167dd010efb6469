"""SQL passes through the lake unchanged: the 22 TPC-H queries give the same answers
through ``Lake.sql`` as through plain DuckDB over the same Parquet files.

The data comes from DuckDB's own tpch extension (``dbgen``), loaded offline from the
``duckdb-extension-tpch`` wheel (the ``dev`` extra), at scale factor 0.01: about
87,000 rows in 8 tables, 60,000 of them in lineitem. Each table is smaller than one
DuckDB row group, so every aggregate is summed in one order and DOUBLE results can
be compared exactly, not within a tolerance.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import docframe

SCALE = 0.01
TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")


def tpch_extension() -> Path:
    """The tpch extension file inside the duckdb-extension-tpch wheel; skip if absent."""
    spec = importlib.util.find_spec("duckdb_extension_tpch")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(
            "duckdb-extension-tpch is not installed: "
            f"pip install duckdb-extension-tpch=={duckdb.__version__} (the dev extra)"
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(package.glob(f"extensions/v{duckdb.__version__}/tpch.duckdb_extension"))
    if not found:
        shipped = sorted(p.parent.name for p in package.glob("extensions/*/*.duckdb_extension"))
        pytest.skip(f"duckdb-extension-tpch has builds for {shipped}, not v{duckdb.__version__}")
    return found[0]


@pytest.fixture(scope="module")
def tpch(tmp_path_factory: pytest.TempPathFactory):
    """(lake holding the 8 TPC-H tables, their Parquet folder, the 22 queries, dbgen's schemas)."""
    extension = tpch_extension()
    root = tmp_path_factory.mktemp("tpch")
    data = root / "parquet"
    data.mkdir()
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"LOAD '{extension}'")
        con.execute(f"CALL dbgen(sf = {SCALE})")
        for table in TABLES:
            con.execute(f"COPY {table} TO '{data / table}.parquet' (FORMAT parquet)")
        queries = con.execute("SELECT query_nr, query FROM tpch_queries() ORDER BY 1").fetchall()
        schemas = {t: con.execute(f"SELECT * FROM {t} LIMIT 0").to_arrow_table().schema
                   for t in TABLES}  # fmt: skip
    finally:
        con.close()
    lake = docframe.open(root / "lake")
    report = lake.ingest(data, progress=False)
    assert report.ok, report.failures
    return lake, data, dict(queries), schemas


def test_the_lake_holds_the_tables_as_generated(tpch):
    """Ingesting Parquet keeps every column's type (DECIMAL(15,2) stays decimal) and row."""
    lake, data, _, schemas = tpch
    assert sorted(lake.snapshot().tables) == sorted(TABLES)
    for table in TABLES:
        held = lake.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow().schema
        assert held.equals(schemas[table]), f"{table}: {held} != {schemas[table]}"
    counts = lake.sql(
        " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in TABLES)
    ).to_list()
    assert {r["t"]: r["n"] for r in counts}["lineitem"] > 50_000


@pytest.fixture(scope="module")
def reference(tpch):
    """Plain DuckDB with a view per table over the same Parquet files."""
    _, data, _, _ = tpch
    con = duckdb.connect(":memory:")
    for table in TABLES:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{data / table}.parquet')")
    yield con
    con.close()


@pytest.mark.parametrize("number", range(1, 23))
def test_tpch_query_answers_as_plain_duckdb(tpch, reference, number):
    lake, _, queries, _ = tpch
    query = queries[number]
    got = lake.sql(query).to_arrow()
    want = reference.execute(query).to_arrow_table()
    assert got.column_names == want.column_names
    assert got.schema.equals(want.schema), f"Q{number}: {got.schema} != {want.schema}"
    assert got.num_rows == want.num_rows > 0
    if not re.search(r"\border\s+by\b", query, re.IGNORECASE):  # no order promised
        keys = [(c, "ascending") for c in got.column_names]
        got, want = got.sort_by(keys), want.sort_by(keys)
    assert got.equals(want), f"Q{number} differs:\n{_first_difference(got, want)}"


def _first_difference(got: pa.Table, want: pa.Table) -> str:
    for i, (a, b) in enumerate(zip(got.to_pylist(), want.to_pylist(), strict=True)):
        if a != b:
            return f"row {i}: lake {a} != duckdb {b}"
    return "(rows equal as Python values; Arrow layout differs)"
