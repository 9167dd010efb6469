"""The notebooks in ``notebooks/`` run from top to bottom (their cells assert what they show).

Executed with a real Jupyter kernel (nbclient + ipykernel) from the notebooks folder, as
a user would open them; offline, like every test. What a user would see besides the
cells' own output is checked too: no cell writes to stderr (a warning from a library,
a progress bar that cannot draw), which Jupyter shows in red under the cell.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import SAMPLE

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# pictures each notebook shows (matplotlib figures as PNG, the media notebook's frame as JPEG);
# what is in them the notebook's own cells assert
PICTURES = {"explore": 1, "media": 1, "pdfs": 2, "performance": 2}


def _execute(notebook: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": cwd}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell and its traceback
    return notebook


WARNING = re.compile(r"\b[A-Z]\w*Warning: ")  # how Python prints a warning


def _pictures(notebook: nbformat.NotebookNode) -> int:
    return sum(
        any(mime.startswith("image/") for mime in output.get("data", {}))
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )


def _stderr(notebook: nbformat.NotebookNode) -> list[str]:
    """'cell N: text' for each stderr output of the executed ``notebook``, and for each
    output that prints a Python warning (rich, while its live display runs, shows what is
    written to stderr as HTML output instead)."""
    shown = []
    for i, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            if output.get("name") == "stderr" or WARNING.search(text):
                shown.append(f"cell {i}: {text}")
    return shown


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jupyter_client's platformdirs notice
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "matplotlib" in path.read_text(encoding="utf-8"):
        pytest.importorskip("matplotlib")  # the notebook extra, in dev
    monkeypatch.setenv("DOCFRAME_NOTEBOOK_LAKE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    notebook = _execute(nbformat.read(path, as_version=4), path.parent)
    assert os.listdir(tmp_path), "the notebook wrote its lake where it was told"
    assert not _stderr(notebook), _stderr(notebook)
    assert _pictures(notebook) == PICTURES[path.stem]


def test_every_notebook_says_what_it_shows() -> None:
    assert sorted(PICTURES) == [p.stem for p in NOTEBOOKS]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("widgets", [True, False], ids=["ipywidgets", "no-ipywidgets"])
def test_jupyter_ingest_and_search_warn_nothing(
    widgets: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's first ingest (with progress) and hybrid search in Jupyter, with and without
    ipywidgets: the progress draws in a widget or not at all, and no library's warning
    (tqdm's 'IProgress not found', rich's 'install ipywidgets') reaches the cell."""
    if widgets:
        pytest.importorskip("ipywidgets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hide = "" if widgets else "import sys; sys.modules['ipywidgets'] = None  # not installed\n"
    cells = [
        hide + "import docframe",
        f"lake = docframe.open({str(tmp_path / 'lake')!r})\n"
        f"report = lake.ingest({str(SAMPLE)!r}, progress=True)\n"
        "assert report.ok, report.failures",
        "hits = lake.search('penalties for late delivery', k=3, mode='hybrid').to_list()\n"
        "assert hits",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook = _execute(notebook, tmp_path)
    assert not _stderr(notebook), _stderr(notebook)
    shown = [o for o in notebook.cells[1].outputs if o.get("output_type") == "display_data"]
    if widgets:  # rich's live progress, drawn in an Output widget
        assert any("application/vnd.jupyter.widget-view+json" in o["data"] for o in shown), shown
    else:
        assert not any("application/vnd.jupyter.widget-view+json" in o["data"] for o in shown)
