"""How the Dask driver cuts planned files into tasks (no cluster needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from docframe.pipelines.ingest import _Plan, _Stat
from docframe.pipelines.ingest_dask import GROUP_BYTES, GROUP_FILES, _groups


def _plans(sizes: list[int]) -> list[_Plan]:
    return [
        _Plan(Path(f"/in/{i}.txt"), None, _Stat(n, 0.0), "digest", False)
        for i, n in enumerate(sizes)
    ]


def test_groups_keep_order_ids_and_every_file_once():
    plans = _plans([10] * 50)
    groups = _groups(plans, list(range(200, 250)), workers=2)
    assert [p for g in groups for p in g.plans] == plans  # consecutive, all, in order
    assert {u: v for g in groups for u, v in g.ids.items()} == {
        str(p.path): 200 + i for i, p in enumerate(plans)
    }
    assert len(groups) == 8  # about four per worker: ceil(50 / 8) = 7 files each


def test_groups_are_capped_by_files_and_by_bytes():
    many = _groups(_plans([1] * 10_000), list(range(10_000)), workers=2)
    assert max(len(g.plans) for g in many) == GROUP_FILES
    big = GROUP_BYTES // 3
    sizes = [1, 1, 1, big, big, big, 1, GROUP_BYTES * 2] + [1] * 32  # 40 files: 10 a group
    groups = _groups(_plans(sizes), list(range(40)), workers=1)
    assert [len(g.plans) for g in groups] == [5, 2, 1, 10, 10, 10, 2]
    assert [p.st.st_size for p in groups[2].plans] == [GROUP_BYTES * 2]  # the huge one alone
    assert all(
        sum(p.st.st_size for p in g.plans) <= GROUP_BYTES for g in groups if len(g.plans) > 1
    )


@pytest.mark.slow
def test_the_pdf_sandbox_and_its_limits_run_on_the_workers(tmp_path: Path):
    """A PDF read on a Dask worker goes through the same sandbox: its time limit holds
    there (0.001 s: no sandbox starts that fast), the error names the file, and the
    rest of the batch is committed."""
    pytest.importorskip("distributed")
    import docframe
    from docframe.connectors.pdf import PdfOptions
    from tests.connectors.pdf.test_pdf_text import heading_pdf

    corpus = tmp_path / "in"
    corpus.mkdir()
    pdf = heading_pdf(corpus / "slow.pdf")
    (corpus / "note.txt").write_text("A note about glaciers and the orbit of moons.\n")
    lake = docframe.open(tmp_path / "lake")
    limited = PdfOptions(timeout_s=0.001, ocr="off")
    report = lake.ingest(corpus, workers=1, pdf_options=limited)
    [failed] = report.failures
    assert failed.error.startswith(f"{pdf}: timeout after 0.001 s (help: ")
    assert report.count("ingested") == 1
    read = lake.ingest(corpus, workers=1)  # the normal limits: the sandbox reads it there
    assert read.ok and read.count("ingested") == 1 and read.count("unchanged") == 1
    assert "pdf" in set(lake.sql("SELECT modality FROM chunks").to_pandas().modality)


@pytest.mark.slow
def test_table_names_are_claimed_in_file_order_as_one_process_claims_them(tmp_path: Path):
    """Workers know only the lake's table names, not each other's: the driver claims them
    in file order. The same PDF in three folders gives t, t_2, t_3; a second data.csv is
    refused as in one process, and its written segment does not stay behind."""
    pytest.importorskip("distributed")
    import shutil

    import docframe
    from tests.conftest import SHARED_CORPUS
    from tests.pipelines.test_ingest_interrupt import _on_disk, _referenced

    pdf = SHARED_CORPUS / "pdfs" / "pdfplumber" / "nics-background-checks-2015-11.pdf"
    if not pdf.exists():
        pytest.skip(f"{pdf} is not there (the shared corpus)")
    corpus = tmp_path / "in"
    for folder in ("a", "b", "c"):
        (corpus / folder).mkdir(parents=True)
        shutil.copy(pdf, corpus / folder / pdf.name)
    (corpus / "a" / "data.csv").write_text("x,y\n1,2\n")
    (corpus / "b" / "data.csv").write_text("x,y\n3,4\n")

    def ingest(name: str, **how) -> tuple[Any, Any]:
        lake = docframe.open(tmp_path / name)
        report = lake.ingest(corpus, jobs=1, **how)
        tables = {n: (t.source_uri, t.n_rows) for n, t in lake.snapshot().tables.items()}
        return report, tables

    single, single_tables = ingest("single")
    dask, dask_tables = ingest("dask", workers=2)
    assert dask_tables == single_tables
    assert {n for n in single_tables if n.startswith("nics")} == {
        f"nics_background_checks_2015_11_p1_t1{suffix}" for suffix in ("", "_2", "_3")
    }
    assert [o.error for o in dask.failures] == [o.error for o in single.failures]
    assert "table name 'data' is already taken" in dask.failures[0].error
    assert _on_disk(tmp_path / "dask") == _referenced(tmp_path / "dask")
