import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest

from docframe import backend
from docframe.errors import EngineError, GPUUnavailableError, JobError


def test_auto_chooses_cpu_here_and_says_why():
    chosen = backend.resolve("auto")
    assert chosen.name == "cpu"
    assert chosen.requested == "auto"
    # the reason names the missing evidence, not just "cpu"
    assert "no NVIDIA driver" in chosen.reason or "RAPIDS packages missing" in chosen.reason
    assert chosen.torch_device == "cpu"
    assert chosen.index_family == "faiss"
    assert chosen.table_module().__name__ == "pandas"
    assert chosen.array_module().__name__ == "numpy"


def test_gpu_without_a_device_is_a_clear_error():
    with pytest.raises(GPUUnavailableError) as info:
        backend.resolve("gpu")
    assert "no usable GPU" in str(info.value)
    assert "--engine cpu" in info.value.help


def test_env_variable_selects_engine(monkeypatch):
    monkeypatch.setenv("DOCFRAME_ENGINE", "cpu")
    assert backend.resolve().reason == "CPU requested explicitly"
    monkeypatch.setenv("DOCFRAME_ENGINE", "gpu")
    with pytest.raises(GPUUnavailableError):
        backend.resolve()


def test_unknown_engine_lists_the_valid_ones():
    with pytest.raises(EngineError, match="auto, cpu, gpu"):
        backend.resolve("tpu")


def test_hidden_gpus_are_reported(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    visible, evidence = backend.gpu_device_visible()
    assert not visible and "CUDA_VISIBLE_DEVICES" in evidence


def test_import_docframe_stays_light():
    code = (
        "import sys, docframe; "
        "heavy = [m for m in ('torch', 'cudf', 'cupy', 'faiss', 'fitz', 'sentence_transformers')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_backend_names_its_table_engine():
    cpu = backend.resolve("cpu")
    assert cpu.table_engine() == backend.Engine("pandas")
    assert cpu.table_engine(distributed=True) == backend.Engine("dask")
    assert backend.engine_for("gpu", distributed=True) == backend.Engine("dask-cudf")
    assert backend.engine_for("cudf") == backend.Engine("cudf")
    assert backend.Engine("cudf").gpu and not backend.Engine("cudf").lazy
    assert backend.Engine("dask-cudf").frame_package == "dask"
    assert backend.available_engines()[0] == "pandas"


def test_an_unknown_table_engine_suggests_one():
    with pytest.raises(
        JobError, match="unknown table engine 'dask_cudf'; did you mean 'dask-cudf'"
    ):
        backend.Engine("dask_cudf")


def test_an_empty_arrow_table_becomes_the_engines_frame():
    empty = pa.schema([("a", pa.int64()), ("s", pa.string())]).empty_table()
    frame = backend.Engine("pandas").from_arrow(empty)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["a", "s"]


def test_frame_kind_by_type_with_subclasses():
    class Mine(pd.DataFrame):
        pass

    df = pd.DataFrame({"a": [1, 2]})
    assert backend.frame_kind(df).package == "pandas"
    assert backend.frame_kind(Mine(df)).package == "pandas"
    table = backend.frame_kind(df).to_arrow(df.set_axis([7, 8]))
    assert table.equals(pa.table({"a": [1, 2]}))  # the index is dropped
    arrow = backend.frame_kind(table)
    assert arrow.package == "arrow" and arrow.to_pandas(table).equals(df)
    batch = table.to_batches()[0]
    assert backend.frame_kind(batch).to_arrow(batch).equals(table)
    for other in ([1, 2], df["a"], None, "text"):
        assert backend.frame_kind(other) is None


def test_a_dask_frame_is_a_plan_not_data():
    dd = pytest.importorskip("dask.dataframe")
    df = pd.DataFrame({"a": [1, 2, 3]})
    kind = backend.frame_kind(dd.from_pandas(df, npartitions=2))
    assert kind.package == backend.Engine("dask").frame_package
    assert kind.to_arrow is None  # computing it is the caller's decision
    assert kind.to_pandas(dd.from_pandas(df, npartitions=2)).equals(df)


def test_frame_kinds_import_no_gpu_library():
    code = (
        "import sys, pandas, docframe.backend as b\n"
        "assert 'dask' not in sys.modules, 'importing backend imported dask'\n"
        "assert b.frame_kind(pandas.DataFrame()).package == 'pandas'\n"
        "print([m for m in ('cudf', 'cupy', 'dask_cudf') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
