"""How a chunk segment encodes its vectors: no dictionary, BYTE_STREAM_SPLIT, same type.

The chunk segments are the lake's only copy of its vectors, so their encoding is
most of its size; the ``embedding`` column must stay a fixed-size list of float32
that DuckDB reads back bit for bit (SQL users select it).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from docframe.lake.segments import TEXT_ZSTD_LEVEL, chunk_schema, write_segment, writer_options

DIM = 384


def _chunks(n: int) -> pa.Table:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    schema = chunk_schema(DIM)
    columns = {f.name: pa.nulls(n, f.type) for f in schema}
    columns["chunk_id"] = pa.array([f"c{i}" for i in range(n)])
    columns["doc_id"] = pa.array([f"d{i // 3}" for i in range(n)])
    columns["text"] = pa.array(
        [f"chunk number {i} of a document about topic {i % 7}" for i in range(n)]
    )
    columns["bbox"] = pa.array(
        [[0.0, 1.0, 2.0, float(i % 5)] for i in range(n)], schema.field("bbox").type
    )
    columns["version_id"] = pa.array(np.arange(n) // 3, pa.int64())
    columns["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM)
    return pa.table(columns, schema=schema)


def test_vectors_are_byte_stream_split_and_read_back_exactly(tmp_path):
    table = _chunks(500)
    written = write_segment(tmp_path, "chunks", table)
    path = tmp_path / written.path
    meta = pq.ParquetFile(path).metadata
    columns = {meta.row_group(0).column(i).path_in_schema: i for i in range(meta.num_columns)}
    embedding = meta.row_group(0).column(columns["embedding.list.element"])
    assert "BYTE_STREAM_SPLIT" in embedding.encodings
    assert not any("DICTIONARY" in e for e in embedding.encodings)
    assert embedding.compression == "ZSTD"
    text = meta.row_group(0).column(columns["text"])
    assert text.compression == "ZSTD"
    # the schema, and so the column's type, is exactly the chunk schema's
    assert pq.read_schema(path) == chunk_schema(DIM)
    assert pq.read_table(path).equals(table)
    # DuckDB reads the encoding: the same float32 bits, typed as before (FLOAT[], its
    # reading of any Parquet list of float32)
    con = duckdb.connect()
    kind = con.execute(f"DESCRIBE SELECT embedding FROM '{path}'").fetchall()[0][1]
    assert kind == "FLOAT[]"
    rows = con.execute(f"SELECT chunk_id, embedding FROM '{path}'").fetchall()
    ids = [r[0] for r in rows]
    got = np.array([r[1] for r in rows], dtype=np.float32)  # float32 -> double -> float32
    want = table.column("embedding").combine_chunks().flatten().to_numpy().reshape(-1, DIM)
    np.testing.assert_array_equal(got, want[[int(c[1:]) for c in ids]])  # bit for bit
    assert got.dtype == np.float32


def test_options_by_kind():
    schema = chunk_schema(DIM)
    chunks = writer_options("chunks", schema)
    assert chunks["use_byte_stream_split"] == ["embedding.list.element"]
    assert "embedding.list.element" not in chunks["use_dictionary"]
    assert "text" in chunks["use_dictionary"] and "bbox.list.element" in chunks["use_dictionary"]
    assert chunks["compression_level"] == TEXT_ZSTD_LEVEL
    # a lake table: zstd at its default level, dictionaries as pyarrow chooses
    table = pa.schema([("carrier", pa.string()), ("delay", pa.float32())])
    assert writer_options("table", table) == {"compression": "zstd"}
