"""Ingest reads files whose names say nothing by what they hold: a folder of PDFs saved as
``report.bin``, with no suffix, and as a fuzzer's ``.fuzz`` reproducers, and a recording
with no suffix, become documents (not "unsupported"), and the lake says their type came
from their content. A real lake, the packaged model, real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import docframe
from docframe.connectors.media import MediaOptions
from tests.connectors.audio_corpus import require
from tests.connectors.test_content import MINIMAL, PDFS, write_tone
from tests.lake.test_pdf_ingest import make_pdf

TINY = MediaOptions(asr_model="tiny.en")


def test_pdfs_and_a_recording_under_names_that_say_nothing_are_ingested(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    make_pdf(folder / "harbour.pdf")
    (folder / "harbour.pdf").rename(folder / "report.bin")
    shutil.copyfile(require(MINIMAL), folder / "attachment")
    write_tone(folder / "voicemail")
    (folder / "photo.dat").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(folder, media_options=TINY, jobs=1)
    outcomes = {Path(o.input).name: o for o in report.outcomes}
    assert {n: o.status for n, o in outcomes.items()} == {
        "report.bin": "ingested",
        "attachment": "ingested",
        "voicemail": "ingested",
        "photo.dat": "unsupported",
    }
    assert "recognised by content: a PDF document" in outcomes["report.bin"].notes
    assert "recognised by content: a WAV recording" in outcomes["voicemail"].notes

    chunks = lake.sql(
        "SELECT doc_key, modality, page, bbox, text FROM chunks WHERE doc_key = 'report.bin'"
    ).to_list()
    assert {c["modality"] for c in chunks} == {"pdf"}
    assert any("thirty moves per hour" in c["text"] and c["page"] == 1 for c in chunks)
    assert all(c["bbox"] for c in chunks)
    # the Tug Fleet table on page 2 became a lake table, as from a file named .pdf
    assert lake.sql("SELECT count(*) AS n FROM pdf_tables").to_list() == [{"n": 1}]

    docs = {
        d["doc_key"]: d
        for d in lake.sql("SELECT doc_key, modality, metadata FROM documents").to_list()
    }
    assert docs["voicemail"]["modality"] == "audio"
    for name, what in (("report.bin", "a PDF document"), ("voicemail", "a WAV recording")):
        meta = json.loads(docs[name]["metadata"])
        assert meta["recognised_by"] == "content" and meta["recognised_as"] == what
    sources = {
        Path(s["source_uri"]).name: s
        for s in lake.sql("SELECT source_uri, connector, error FROM sources").to_list()
    }
    assert sources["attachment"]["connector"] == "pdf"
    assert sources["voicemail"]["connector"] == "audio"
    assert "recognised by content" in sources["report.bin"]["error"]  # an ok source's notes

    again = lake.ingest(folder, media_options=TINY, jobs=1)  # unchanged: skipped
    assert again.count("unchanged") == 3 and again.count("unsupported") == 1


def test_fuzz_reproducers_are_read_as_the_pdfs_they_are(tmp_path):
    """qpdf's oss-fuzz reproducers (hostile PDFs named ``.fuzz``) go to the PDF connector
    and its sandbox: each ends ingested or as one PDF error line, never unsupported."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("70306.fuzz", "99999e.fuzz"):
        shutil.copyfile(require(PDFS / "qpdf" / name), folder / name)
    report = docframe.open(tmp_path / "lake").ingest(folder, jobs=1)
    assert report.count("unsupported") == 0
    for outcome in report.outcomes:
        assert outcome.status in ("ingested", "failed"), outcome
        if outcome.status == "failed":
            assert outcome.error.startswith(f"{outcome.input}: ") and "\n" not in outcome.error
        else:
            assert "recognised by content: a PDF document" in outcome.notes
    sources = docframe.open(tmp_path / "lake").sql("SELECT connector FROM sources").to_list()
    assert [s["connector"] for s in sources] == ["pdf", "pdf"]


def test_a_pdf_named_txt_fails_naming_what_it_is(tmp_path):
    """A known suffix keeps its connector: the text connector refuses the PDF and says
    which extension would read it."""
    path = tmp_path / "minutes.txt"
    shutil.copyfile(require(MINIMAL), path)
    (outcome,) = docframe.open(tmp_path / "lake").ingest(path).outcomes
    assert outcome.status == "failed"
    assert outcome.error == (
        f"{path}: not a text file: the content is a PDF document "
        "(help: give the file its real extension (.pdf))"
    )
