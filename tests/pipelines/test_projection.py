from docframe.pipelines.tablejob import JobSpec
from docframe.pipelines.tablejob.projection import needed_columns

FLIGHTS = ["year", "carrier", "tailnum", "distance", "dep_delay", "origin"]
PLANES = ["tailnum", "year", "manufacturer", "seats", "engines"]


def test_a_narrowed_job_reads_only_what_it_names():
    spec = JobSpec("j", input="flights", steps=[
        {"filter": "dep_delay > 0 and origin == 'JFK'"},
        {"group_by": ["carrier"], "aggregate": {"n": ["dep_delay", "count"]}},
    ])  # fmt: skip
    assert needed_columns(spec, {"flights": FLIGHTS}) == {
        "flights": ["carrier", "dep_delay", "origin"]
    }


def test_joined_tables_and_suffixes_are_followed():
    spec = JobSpec("j", input="flights", steps=[
        {"select": ["year", "tailnum", "distance"]},
        {"join": {"table": "planes", "on": "tailnum", "suffixes": ["", "_built"]}},
        {"derive": {"age": "year - year_built"}},
        {"group_by": ["manufacturer"], "aggregate": {"age": ["age", "mean"]}},
    ])  # fmt: skip
    got = needed_columns(spec, {"flights": FLIGHTS, "planes": PLANES})
    assert got == {"flights": ["year", "tailnum", "distance"],
                   "planes": ["tailnum", "year", "manufacturer"]}  # fmt: skip


def test_everything_is_read_when_a_step_may_use_any_column():
    base = [{"select": ["carrier"]}]
    assert needed_columns(JobSpec("j", input="flights", steps=[{"sort": ["carrier"]}]),
                          {"flights": FLIGHTS}) is None  # fmt: skip
    for step in ({"dedupe": True}, {"python": lambda frame: frame}):
        spec = JobSpec("j", input="flights", steps=[step, *base])
        assert needed_columns(spec, {"flights": FLIGHTS}) == {"flights": FLIGHTS}
        after = JobSpec("j", input="flights", steps=[*base, step])  # after the select: harmless
        assert needed_columns(after, {"flights": FLIGHTS}) == {"flights": ["carrier"]}
    late_join = JobSpec("j", input="flights", steps=[
        *base, {"join": {"table": "planes", "on": "tailnum"}}])  # fmt: skip
    got = needed_columns(late_join, {"flights": FLIGHTS, "planes": PLANES})
    assert got["planes"] == PLANES  # joined after the last select: all its columns reach the output
