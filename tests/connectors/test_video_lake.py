"""A folder of videos, good and broken, ingested into a lake: slide text is found by
search as a ``screen`` chunk covering the slide's time, its thumbnail is in the lake, and
each broken file is its own recorded error while the batch goes on."""

from __future__ import annotations

import shutil

import pytest

import docframe
from docframe.connectors import ocr
from docframe.connectors.media import MediaOptions
from tests.connectors.test_video import SLIDES, make_video, spoken_wav

pytest.importorskip("av")
pytestmark = [
    pytest.mark.skipif(
        shutil.which("espeak-ng") is None,
        reason="espeak-ng is not installed (apt-get install espeak-ng; make media-tools)",
    ),
    pytest.mark.skipif(
        not ocr.available("eng"),
        reason=f"screen OCR unavailable: {ocr.missing_reason('eng')} (make media-tools)",
    ),
]


def test_slide_text_is_searchable_with_its_time_range_and_thumbnail(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "talk.mp4", SLIDES, speech=spoken_wav(tmp_path, "Good morning."))
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "cut.mp4").write_bytes((folder / "talk.mp4").read_bytes()[:20_000])

    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(folder, media_options=MediaOptions(asr_model="tiny.en"))
    failed = {f.input.rsplit("/", 1)[-1]: f.error for f in report.failures}
    assert set(failed) == {"empty.mp4", "cut.mp4"}, failed
    assert "empty file" in failed["empty.mp4"] and "not a media file" in failed["cut.mp4"]

    (hit,) = lake.sql(
        "SELECT c.text, c.start_s, c.end_s, c.modality, c.metadata->>'stream' AS stream, "
        "c.metadata->>'thumbnail' AS thumbnail "
        "FROM search('warehouse robots reduce picking errors', k => 1) s "
        "JOIN chunks c USING (chunk_id)"
    ).to_list()
    assert hit["stream"] == "screen" and hit["modality"] == "video"
    assert "Warehouse robots" in hit["text"]
    assert hit["start_s"] <= 3.32 + 0.2 and hit["end_s"] >= 6.72
    assert (lake.root / hit["thumbnail"]).read_bytes()[:2] == b"\xff\xd8"
    # SQL on time: the speech sits in the first seconds, under the first slide
    spoken = lake.sql(
        "SELECT text FROM chunks WHERE modality = 'video' AND (metadata->>'stream') = 'speech' "
        "AND start_s BETWEEN 0 AND 3"
    ).to_list()
    assert "morning" in " ".join(r["text"] for r in spoken).lower()
