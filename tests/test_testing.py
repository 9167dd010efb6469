"""docframe.testing: the engine-equivalence helpers themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from docframe.pipelines.tablejob import JobSpec
from docframe.testing import (
    ENGINE_RTOL,
    assert_engines_agree,
    assert_frame_equal,
    available_engines,
    check_engine_api,
    to_pandas,
)
from tests.pipelines.test_tablejob import JOBS, nycflights, table_jobs


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_frames_equal_regardless_of_row_order_and_index():
    left = frame(k=["a", "b", "c"], v=[1.5, np.nan, 3.0])
    right = left.iloc[[2, 0, 1]].set_axis([10, 11, 12])
    assert_frame_equal(left, right)
    with pytest.raises(AssertionError, match="column 'k'"):
        assert_frame_equal(left, right, check_row_order=True)


def test_value_differences_name_the_column_and_row():
    left = frame(k=["a", "b"], v=[1, 2])
    with pytest.raises(
        AssertionError, match=r"column 'v': 1 of 2 rows differ; .*left=.*2.*right=.*3"
    ):
        assert_frame_equal(left, frame(k=["a", "b"], v=[1, 3]))
    with pytest.raises(AssertionError, match="row counts differ"):
        assert_frame_equal(left, left.head(1))
    with pytest.raises(AssertionError, match="columns differ"):
        assert_frame_equal(left, left[["v", "k"]])


def test_missing_values_match_only_missing_values():
    assert_frame_equal(frame(v=[np.nan, 1.0]), frame(v=[np.nan, 1.0]))
    with pytest.raises(AssertionError, match="column 'v'"):
        assert_frame_equal(frame(v=[np.nan, 1.0]), frame(v=[0.0, 1.0]))
    with pytest.raises(AssertionError, match="column 's'"):
        assert_frame_equal(frame(s=["x", None]), frame(s=["x", "None"]))


def test_dtypes_are_compared_but_text_is_one_kind():
    text = ["x", "y", None]
    assert_frame_equal(
        frame(s=pd.Series(text, dtype=object)), frame(s=pd.Series(text, dtype="string"))
    )
    assert_frame_equal(
        frame(s=pd.Series(text, dtype="str")), frame(s=pd.Series(text, dtype="string"))
    )
    with pytest.raises(AssertionError, match=r"column 'v': dtype int64 \(left\) != float64"):
        assert_frame_equal(frame(v=[1, 2]), frame(v=[1.0, 2.0]))
    assert_frame_equal(frame(v=[1, 2]), frame(v=[1.0, 2.0]), check_dtype=False)


def test_floats_exact_by_default_relative_tolerance_when_asked():
    a, b = frame(v=[0.1 + 0.2]), frame(v=[0.3])
    with pytest.raises(AssertionError, match="column 'v'"):
        assert_frame_equal(a, b)
    assert_frame_equal(a, b, rtol=ENGINE_RTOL)
    with pytest.raises(AssertionError):
        assert_frame_equal(frame(v=[1.0]), frame(v=[1.0 + 1e-9]), rtol=ENGINE_RTOL)


def test_to_pandas_materialises_dask_and_arrow():
    dd = pytest.importorskip("dask.dataframe")
    import pyarrow as pa

    df = frame(a=[1, 2, 3])
    assert to_pandas(dd.from_pandas(df, npartitions=2)).equals(df)
    assert to_pandas(pa.table({"a": [1, 2, 3]})).equals(df)
    with pytest.raises(TypeError, match="expected a DataFrame"):
        to_pandas([1, 2, 3])


def test_available_engines_here():
    engines = available_engines()
    assert engines[0] == "pandas"
    assert "dask" in engines  # installed with docframe's table extras
    from docframe.backend import resolve

    if resolve("auto").name == "cpu":
        assert "cudf" not in engines and "dask-cudf" not in engines


def test_engines_agree_on_an_example_job():
    frames = {"flights": nycflights("flights"), "airlines": nycflights("airlines")}
    results = assert_engines_agree(JOBS / "delays_by_carrier.toml", frames)
    assert set(results) == set(available_engines())
    assert len(results["pandas"]) == 10


def test_engines_agree_on_a_callable():
    def per_origin(df):
        return df.groupby("origin").agg(n=("flight", "count")).reset_index()

    results = assert_engines_agree(per_origin, {"flights": nycflights("flights")})
    assert sorted(results["dask"]["origin"]) == ["EWR", "JFK", "LGA"]


def test_a_disagreement_is_reported_with_the_engine():
    def engine_dependent(df):  # what a silent fallback or an engine quirk looks like
        return df if isinstance(df, pd.DataFrame) else df[df["v"] > 1]

    with pytest.raises(AssertionError, match=r"dask disagrees with pandas: row counts differ"):
        assert_engines_agree(engine_dependent, {"t": frame(v=[1, 2, 3])}, engines=("dask",))


@pytest.mark.parametrize("library", ["pandas", "dask"])
def test_frame_calls_bind_to_the_installed_libraries(library):
    pytest.importorskip(library)
    assert check_engine_api(library) == []


@pytest.mark.gpu
def test_cudf_and_dask_cudf_agree_with_pandas_on_the_examples():
    pytest.importorskip("cudf")
    if "cudf" not in available_engines():
        pytest.skip("no usable GPU")
    frames = {name: nycflights(name) for name in ("flights", "airlines", "planes", "weather")}
    engines = [e for e in available_engines() if e != "pandas"]
    for path in table_jobs():
        assert_engines_agree(path, frames, engines=engines)
    assert check_engine_api("cudf") == []
    job = JobSpec("pandas_inside", input="flights", steps=[{"python": lambda df: df.to_pandas()}])
    with pytest.raises(Exception, match="returned a pandas.DataFrame on the cudf engine"):
        assert_engines_agree(job, frames, engines=("cudf",))
