"""What segment integrity costs: the checksum while writing, the quick check per pin,
and full verify, each beside the raw library doing the same work.

    .venv/bin/python benchmarks/integrity.py            # ~1 min on 2 cores
    .venv/bin/python benchmarks/integrity.py --rows 4000000 --tables 500

1. write: docframe's segment writer (SHA-256 of the bytes as they pass, fsync) against
   pyarrow's ParquetWriter to a path plus fsync, on the same table, interleaved, median
   of ``--repeat`` runs.
2. pin: ``Lake.snapshot()`` on a lake of ``--tables`` small tables, and the quick check
   alone inside it, the first time in a process (reads 8 bytes per file) and after
   (one stat per file).
3. verify: ``Lake.verify()`` (every byte hashed) against hashlib over the same files.

The last line is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _table(rows: int) -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table(
        {
            "id": np.arange(rows),
            "amount": rng.random(rows) * 1000,
            "note": pa.array([f"row {i} of the benchmark" for i in range(rows)]),
        }
    )


def _raw_write(path: Path, table: pa.Table) -> None:
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        writer.write_table(table, row_group_size=table.num_rows)
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def bench_write(root: Path, rows: int, repeat: int) -> dict[str, float]:
    from docframe.lake.segments import write_segment

    table = _table(rows)
    ours, raw = [], []
    for i in range(repeat):  # interleaved, alternating which goes first
        for which in ("ours", "raw") if i % 2 == 0 else ("raw", "ours"):
            start = time.perf_counter()
            if which == "ours":
                written = write_segment(root, "table", table)
                ours.append(time.perf_counter() - start)
                (root / written.path).unlink()
            else:
                _raw_write(root / "raw.parquet", table)
                raw.append(time.perf_counter() - start)
                size = (root / "raw.parquet").stat().st_size
                (root / "raw.parquet").unlink()
    return {
        "write_rows": rows,
        "write_mb": round(size / 1e6, 1),
        "write_docframe_s": round(statistics.median(ours), 4),
        "write_raw_s": round(statistics.median(raw), 4),
        "write_ratio": round(statistics.median(ours) / statistics.median(raw), 3),
    }


def bench_pin_and_verify(root: Path, tables: int) -> dict[str, float]:
    import docframe
    from docframe.lake import catalog, integrity

    src = root / "tables"
    src.mkdir()
    for i in range(tables):
        pq.write_table(pa.table({"x": np.arange(1000) + i}), src / f"t{i:04d}.parquet")
    big = src / "big.parquet"
    pq.write_table(_table(2_000_000), big)
    lake = docframe.open(root / "lake")
    assert lake.ingest(src).ok
    con = lake.connect()
    try:
        segments = catalog.visible_segments(con, catalog.latest_snapshot(con))
        integrity._QUICK_SOUND.clear()  # as a fresh process finds it
        start = time.perf_counter()
        integrity.visible_damage(lake.root, con, segments)
        cold = time.perf_counter() - start
        warm_runs = []
        for _ in range(20):
            start = time.perf_counter()
            integrity.visible_damage(lake.root, con, segments)
            warm_runs.append(time.perf_counter() - start)
    finally:
        con.close()
    pins = []
    for _ in range(20):
        start = time.perf_counter()
        lake.snapshot()
        pins.append(time.perf_counter() - start)
    files = sorted((lake.root / "segments").iterdir())
    total = sum(f.stat().st_size for f in files)
    integrity._HASH_SOUND.clear()
    start = time.perf_counter()
    report = lake.verify()
    verify_s = time.perf_counter() - start
    assert report.ok and report.checked == len(files)
    start = time.perf_counter()
    for f in files:
        digest = hashlib.sha256()
        with open(f, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    raw_s = time.perf_counter() - start
    return {
        "segments": len(segments),
        "quick_check_first_ms": round(1000 * cold, 2),
        "quick_check_cached_ms": round(1000 * statistics.median(warm_runs), 2),
        "pin_ms": round(1000 * statistics.median(pins), 2),
        "verify_mb": round(total / 1e6, 1),
        "verify_s": round(verify_s, 3),
        "verify_mb_s": round(total / 1e6 / verify_s, 1),
        "hashlib_mb_s": round(total / 1e6 / raw_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--tables", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        result = {"cpus": os.cpu_count()}
        result.update(bench_write(root, args.rows, args.repeat))
        result.update(bench_pin_and_verify(root, args.tables))
    for key, value in result.items():
        print(f"{key:>24}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
