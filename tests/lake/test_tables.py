"""Lake tables: ingest of tabular files, versions, SQL views, and tables written from Python."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import docframe
from docframe.errors import LakeError


@pytest.fixture
def orders() -> pa.Table:
    return pa.table(
        {
            "order_id": pa.array([1, 2, 3, 4], pa.int64()),
            "region": ["north", "south", "north", "east"],
            "amount": [10.5, 20.0, 7.25, 3.0],
        }
    )


def test_parquet_file_becomes_a_queryable_table(tmp_path, orders):
    pq.write_table(orders, tmp_path / "Orders 2024.parquet")
    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(tmp_path / "Orders 2024.parquet")
    assert report.ok
    (outcome,) = report.outcomes
    assert outcome.tables == ["orders_2024"] and outcome.n_rows == 4
    got = lake.sql("SELECT region, sum(amount) AS total FROM orders_2024 GROUP BY 1 ORDER BY 1")
    assert got.to_list() == [
        {"region": "east", "total": 3.0},
        {"region": "north", "total": 17.75},
        {"region": "south", "total": 20.0},
    ]
    listed = lake.tables().to_list()
    assert [(t["name"], t["n_rows"], t["n_columns"]) for t in listed] == [("orders_2024", 4, 3)]
    assert listed[0]["columns"] == "order_id int64, region string, amount double"
    src = lake.sql("SELECT n_tables, n_rows, n_chunks FROM sources").to_list()
    assert src == [{"n_tables": 1, "n_rows": 4, "n_chunks": 0}]
    assert not (tmp_path / "lake" / "indexes").exists()  # no text, no index, no model load


def test_partitioned_folder_is_one_table_with_partition_columns(tmp_path, orders):
    ds.write_dataset(orders, tmp_path / "sales", format="parquet", partitioning=["region"],
                     partitioning_flavor="hive")  # fmt: skip
    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(tmp_path)  # a folder walk finds the dataset as one input
    assert [o.tables for o in report.outcomes] == [["sales"]]
    rows = lake.sql("SELECT order_id, region FROM sales ORDER BY order_id").to_list()
    assert rows == [
        {"order_id": 1, "region": "north"},
        {"order_id": 2, "region": "south"},
        {"order_id": 3, "region": "north"},
        {"order_id": 4, "region": "east"},
    ]
    assert lake.ingest(tmp_path).count("unchanged") == 1


def test_changed_table_file_is_a_new_version_and_old_snapshots_keep_the_old(tmp_path, orders):
    path = tmp_path / "orders.parquet"
    pq.write_table(orders, path)
    lake = docframe.open(tmp_path / "lake")
    lake.ingest(path)
    first = lake.snapshot().snapshot_id
    pq.write_table(orders.slice(0, 2), path)
    assert lake.ingest(path).count("ingested") == 1
    assert lake.sql("SELECT count(*) AS n FROM orders").to_list() == [{"n": 2}]
    assert lake.sql("SELECT count(*) AS n FROM orders", snapshot=first).to_list() == [{"n": 4}]


def test_table_names_are_unique_across_sources(tmp_path, orders):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    pq.write_table(orders, tmp_path / "a" / "orders.parquet")
    pq.write_table(orders, tmp_path / "b" / "orders.parquet")
    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(tmp_path)
    assert report.count("ingested") == 1
    (failure,) = report.failures
    assert "table name 'orders' is already taken by" in failure.error
    renamed = lake.ingest(tmp_path / "b" / "orders.parquet", table="orders_b")
    assert renamed.ok
    names = [t["name"] for t in lake.tables().to_list()]
    assert names == ["orders", "orders_b"]


def test_mislabeled_parquet_is_a_clear_error(tmp_path):
    (tmp_path / "fake.parquet").write_text("id,name\n1,a\n")
    lake = docframe.open(tmp_path / "lake")
    (failure,) = lake.ingest(tmp_path / "fake.parquet").failures
    assert "not a readable Parquet file" in failure.error and "fake.parquet" in failure.error
    assert lake.tables().to_list() == []


def test_write_table_from_pandas_is_versioned_and_idempotent(tmp_path):
    lake = docframe.open(tmp_path / "lake")
    frame = pd.DataFrame({"carrier": ["AA", "UA"], "delay": [1.5, 2.0]})
    s1 = lake.write_table("delays", frame, source="job:delays", content_hash="h1")
    assert lake.write_table("delays", frame, source="job:delays", content_hash="h1") == s1
    assert lake.table("delays").to_pandas().equals(frame)
    s2 = lake.write_table("delays", frame.head(1), source="job:delays", content_hash="h2")
    assert s2 == s1 + 1
    assert len(lake.table("delays")) == 1 and len(lake.table("delays", snapshot=s1)) == 2
    with pytest.raises(LakeError, match="did you mean 'delays'"):
        lake.table("delay")
    row = lake.sql("SELECT connector, status FROM sources WHERE source_uri = 'job:delays'")
    assert row.to_list() == [{"connector": "job", "status": "ok"}]


def test_empty_table_keeps_its_columns(tmp_path):
    lake = docframe.open(tmp_path / "lake")
    empty = pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())})
    lake.write_table("nothing", empty, source="job:nothing", content_hash="x")
    result = lake.sql("SELECT * FROM nothing")
    assert len(result) == 0 and result.columns == ["a", "b"]
