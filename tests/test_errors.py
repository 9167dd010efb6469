import pickle

from docframe.errors import ConnectorError, DocframeError


def test_errors_pickle_with_their_help():
    err = ConnectorError("x.txt: empty file", help="add content")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ConnectorError
    assert isinstance(back, DocframeError)
    assert back.help == "add content"
    assert str(back) == "x.txt: empty file (help: add content)"


# -- every error a user meets says what to do ---------------------------------------------


def test_every_docframe_error_raised_carries_a_help_line():
    """Each user-facing failure is one line plus ``help:`` (README: The CLI): every place
    in the package that makes one of docframe's errors gives it a ``help``."""
    import ast
    from pathlib import Path

    import docframe.errors as errors

    names = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, DocframeError)
    }
    package = Path(errors.__file__).parent
    missing = []
    for path in sorted(package.rglob("*.py")):
        if path == Path(errors.__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in names and not any(k.arg == "help" for k in node.keywords):
                missing.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    assert names >= {"DocframeError", "QueryError", "ConnectorError", "ToolArgumentError"}
    assert not missing, f"errors without help=: {missing}"


def test_a_damaged_index_warns_at_the_callers_line_with_its_help(sample_lake, tmp_path):
    """In Python (a notebook), the warning points at the user's own line, not at
    ``docframe/index/store.py:302``, and keeps its hint."""
    import shutil
    import warnings

    import docframe
    from docframe.errors import DocframeWarning

    root = tmp_path / "lake"
    shutil.copytree(sample_lake.root, root)
    damaged = sorted((root / "indexes").glob("dense-*/*/manifest.json"))
    assert damaged, "the sample lake saved a dense index"
    damaged[0].write_text("{")
    lake = docframe.open(root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hits = lake.search("beekeeping in winter", k=2)
    assert len(hits) == 2
    found = [w for w in caught if issubclass(w.category, DocframeWarning)]
    assert found, [str(w.message) for w in caught]
    # this test's line, not docframe's (Python's default filter then shows it once)
    assert {w.filename for w in found} == {__file__}
    found = found[0]
    assert "is unusable" in found.message.message and found.message.help
    assert str(found.message).endswith(f"(help: {found.message.help})")


def test_gpu_results_without_rapids_name_the_extra(sample_lake):
    """``Result.to_cudf()`` on a CPU-only install: one message and the extra to install,
    not ``ModuleNotFoundError: No module named 'cudf'``."""
    import importlib.util

    import pytest

    from docframe.backend import GPU_EXTRA_HINT, Engine
    from docframe.errors import MissingDependencyError

    if importlib.util.find_spec("cudf") is not None:
        pytest.skip("RAPIDS is installed here: to_cudf works (tests/test_backend.py -m gpu)")
    result = sample_lake.sql("SELECT 1 AS one")
    with pytest.raises(MissingDependencyError) as caught:
        result.to_cudf()
    assert caught.value.message == "Result.to_cudf() needs 'cudf', which is not installed"
    assert caught.value.help == GPU_EXTRA_HINT and "docframe[gpu-cu12]" in GPU_EXTRA_HINT
    with pytest.raises(MissingDependencyError, match="the cudf engine needs 'cudf'"):
        Engine("cudf").module()
