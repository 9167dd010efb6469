"""table_writer.to_arrow: what may enter the lake as a table, whatever engine made it."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from docframe.errors import DocframeError
from docframe.pipelines.table_writer import to_arrow


def test_arrow_and_pandas_become_arrow_without_the_index():
    expected = pa.table({"a": [1, 2]})
    assert to_arrow(expected) is expected
    assert to_arrow(expected.to_batches()[0]).equals(expected)
    assert to_arrow(pd.DataFrame({"a": [1, 2]}, index=[5, 6])).equals(expected)


def test_what_is_not_a_table_is_refused_by_name():
    with pytest.raises(DocframeError, match="cannot write a Series as a lake table"):
        to_arrow(pd.Series([1, 2]))
    with pytest.raises(DocframeError, match="cannot write a list as a lake table"):
        to_arrow([{"a": 1}])


def test_a_dask_frame_is_computed_by_the_caller_not_here():
    dd = pytest.importorskip("dask.dataframe")
    with pytest.raises(DocframeError, match="cannot write a DataFrame as a lake table"):
        to_arrow(dd.from_pandas(pd.DataFrame({"a": [1]}), npartitions=1))
