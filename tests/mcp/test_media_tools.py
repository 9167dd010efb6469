"""The agent tools on audio and video: time filters, citations in minutes and seconds,
and the frame a passage was on screen in."""

from __future__ import annotations

import re
import shutil

import pytest

import docframe
from docframe.connectors import ocr
from docframe.connectors.media import MediaOptions
from docframe.mcp.tools import LakeTools
from tests.connectors.audio_corpus import AUDIO
from tests.connectors.test_video import SLIDES, make_video, spoken_wav

pytest.importorskip("av")
pytestmark = [
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"),
    pytest.mark.skipif(not ocr.available("eng"), reason="tesseract is not installed"),
    pytest.mark.skipif(not (AUDIO / "jfk.wav").exists(), reason="the shared corpus is absent"),
]


@pytest.fixture(scope="module")
def media_tools(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    folder = root / "media"
    folder.mkdir()
    make_video(folder / "talk.mp4", SLIDES, speech=spoken_wav(root, "Good morning."))
    shutil.copy(AUDIO / "jfk.wav", folder / "jfk.wav")
    lake = docframe.open(root / "lake")
    report = lake.ingest(folder, media_options=MediaOptions(asr_model="tiny.en"), jobs=1)
    assert report.ok, report.failures
    tools = LakeTools(lake)
    yield lake, tools
    tools.close()


def test_time_filters_and_modalities_reach_the_index(media_tools):
    _, tools = media_tools
    found = tools.call(
        "search",
        {"text": "warehouse robots", "k": 3,
         "filters": {"modality": "video", "time_from_s": 4.0, "time_to_s": 5.0}},
    )["hits"]  # fmt: skip
    assert found and all(h["modality"] == "video" for h in found)
    assert all(h["start_s"] <= 5.0 and h["end_s"] >= 4.0 for h in found)
    speech = tools.call("search", {"text": "ask not what your country can do", "k": 1,
                                   "filters": {"modality": "audio"}})["hits"]  # fmt: skip
    assert speech[0]["source_uri"].endswith("jfk.wav")
    assert re.fullmatch(r"jfk\.wav 00:\d\d–00:1[01]", speech[0]["citation"])


def test_get_context_returns_the_frame_on_screen(media_tools):
    lake, tools = media_tools
    (hit,) = tools.call(
        "search", {"text": "warehouse robots reduce picking errors", "k": 1, "mode": "keyword"}
    )["hits"]
    context = tools.call("get_context", {"chunk_id": hit["chunk_id"]})
    assert context["thumbnail"].startswith("artifacts/")  # a path inside the lake folder
    assert (lake.root / context["thumbnail"]).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert re.fullmatch(r"talk\.mp4 00:0\d–00:\d\d", context["citation"])


def test_sql_on_time_ranges_and_document_metadata(media_tools):
    _, tools = media_tools
    rows = tools.call(
        "sql",
        {"query": "SELECT d.doc_key, d.metadata->>'language' AS language, "
                  "(d.metadata->>'duration_s')::DOUBLE AS duration, count(*) AS chunks "
                  "FROM chunks c JOIN documents d USING (doc_id) "
                  "WHERE c.modality IN ('audio', 'video') AND c.start_s BETWEEN 0 AND 120 "
                  "GROUP BY ALL ORDER BY 1"},
    )["rows"]  # fmt: skip
    assert [r["doc_key"] for r in rows] == ["jfk.wav", "talk.mp4"]
    assert all(r["language"] == "en" and r["duration"] > 5 and r["chunks"] >= 1 for r in rows)
