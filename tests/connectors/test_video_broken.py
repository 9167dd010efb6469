"""Broken videos: each is one ConnectorError naming the file and what to do."""

from __future__ import annotations

import pytest

from docframe.connectors.media import MediaOptions, VideoConnector
from docframe.errors import ConnectorError
from tests.conftest import SHARED_CORPUS
from tests.connectors.test_video import make_video

av = pytest.importorskip("av")

BUNNY = SHARED_CORPUS / "video" / "big_buck_bunny_0_30.webm"
JFK = SHARED_CORPUS / "audio" / "jfk.mp3"


def corpus(path):
    if not path.exists():
        pytest.skip(f"shared corpus file not found ({path}); it is present on CI machines only")
    return path


def failure(path, **options) -> ConnectorError:
    connector = VideoConnector().configured(MediaOptions(**options))
    with pytest.raises(ConnectorError) as info:
        next(connector.extract(path))
    err = info.value
    assert str(path) in err.message and "\n" not in err.message
    assert err.help
    return err


@pytest.fixture
def slides(tmp_path):
    return make_video(tmp_path / "slides.mp4", [(0.0, "One"), (1.0, "Two")], duration_s=2.0)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert "empty file (0 bytes)" in failure(path).message


def test_not_media(tmp_path):
    path = tmp_path / "noise.mkv"
    path.write_bytes(bytes(range(256)) * 64)
    assert "not a media file" in failure(path).message


def test_truncated_webm_says_how_much_was_there(tmp_path):
    data = corpus(BUNNY).read_bytes()
    path = tmp_path / "bunny_cut.webm"
    path.write_bytes(data[: len(data) * 4 // 10])
    err = failure(path)
    assert "truncated" in err.message and "of video decoded" in err.message
    assert "30.0 s" in err.message and "fetch it again" in err.help


def test_truncated_mp4_has_no_index(tmp_path, slides):
    data = slides.read_bytes()
    path = tmp_path / "slides_cut.mp4"
    path.write_bytes(data[: len(data) // 2])  # the moov index comes last: it is gone
    assert "not a media file" in failure(path).message


def test_truncated_webm_within_max_seconds_is_fine(tmp_path):
    data = corpus(BUNNY).read_bytes()
    path = tmp_path / "bunny_cut.webm"
    path.write_bytes(data[: len(data) * 4 // 10])  # ~11 s of 30 are left
    doc = next(
        VideoConnector()
        .configured(MediaOptions(max_seconds=5, asr_model="tiny.en", screen_ocr="off"))
        .extract(path)
    )
    assert "cut at 5 s of 30.0 s" in doc.metadata["note"]


def test_no_decodable_video_stream(tmp_path, slides):
    data = bytearray(slides.read_bytes())
    start, index = data.find(b"mdat") + 4, data.find(b"moov")
    data[start : index - 8] = bytes(index - 8 - start)  # the frames are zeros; headers intact
    path = tmp_path / "zeroed.mp4"
    path.write_bytes(bytes(data))
    assert "no decodable video" in failure(path).message


def test_audio_file_renamed_mp4_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "jfk.mp4"
    path.write_bytes(corpus(JFK).read_bytes())
    err = failure(path)
    assert "no video stream (audio only)" in err.message
    assert ".m4a" in err.help


def test_past_the_time_limit_is_one_error_and_the_next_file_reads(tmp_path, slides):
    err = failure(slides, timeout_s=0.05)
    assert "timeout after 0.05 s" in err.message
    doc = next(VideoConnector().configured(MediaOptions(screen_ocr="off")).extract(slides))
    assert doc.metadata["frames_decoded"] == 50  # a fresh worker took the next file
