"""PyAV decoding and probing of the shared corpus's real files, and the stereo rule."""

from __future__ import annotations

import pytest

from docframe.connectors.media.audio import channel_mode
from docframe.connectors.media.decode import SAMPLE_RATE, decode, probe
from tests.connectors.audio_corpus import AUDIO, VIDEO, require


@pytest.mark.parametrize(
    ("name", "facts"),
    [
        ("jfk.wav", ("wav", "pcm_s16le", 1, 16000, 11.0)),
        ("jfk.mp3", ("mp3", "mp3float", 1, 16000, 11.0)),
        ("jfk.flac", ("flac", "flac", 2, 44100, 11.0)),
        ("multilingual.mp3", ("mp3", "mp3float", 1, 24000, 59.9)),
        ("fleurs/fleurs-fr-000.ogg", ("ogg", "opus", 1, 48000, None)),
    ],
)
def test_probe_reads_the_headers(name, facts):
    info = probe(require(AUDIO / name))
    container, codec, channels, rate, seconds = facts
    assert (info.container, info.codec, info.channels, info.sample_rate) == facts[:4]
    assert info.has_audio and not info.has_video
    if seconds is not None:
        assert info.duration_s == pytest.approx(seconds, abs=0.05)
    meta = info.as_metadata()
    assert meta["codec"] == codec and "width" not in meta


def test_probe_of_a_film_has_its_picture():
    info = probe(require(VIDEO / "big_buck_bunny_0_30.webm"))
    assert info.has_video and info.has_audio
    assert (info.video_codec, info.width, info.height, info.fps) == ("vp8", 1280, 720, 24.0)
    assert info.as_metadata()["height"] == 720


def test_decode_gives_16_khz_float32():
    mono = decode(require(AUDIO / "jfk.flac"))  # 44.1 kHz stereo, mixed down
    assert mono.samples.shape[0] == 1 and str(mono.samples.dtype) == "float32"
    assert mono.seconds == pytest.approx(11.0, abs=0.05) and mono.note is None
    both = decode(AUDIO / "jfk.flac", stereo=True)
    assert both.samples.shape[0] == 2
    assert abs(both.samples.shape[1] - mono.samples.shape[1]) <= SAMPLE_RATE // 100


def test_decode_stops_at_max_seconds_and_says_so():
    cut = decode(require(AUDIO / "multilingual.mp3"), max_seconds=2.5)
    assert cut.samples.shape == (1, int(2.5 * SAMPLE_RATE))
    assert cut.note == "cut at 2.5 s of 59.9 s (--media-max-seconds)"
    whole = decode(AUDIO / "jfk.wav", max_seconds=60)
    assert whole.note is None and whole.seconds == pytest.approx(11.0, abs=0.01)


def test_channel_rule_on_real_stereo():
    split = decode(require(AUDIO / "stereo_diarization.wav"), stereo=True).samples
    assert channel_mode(split) == "split"  # one speaker per channel
    assert channel_mode(decode(AUDIO / "jfk.flac", stereo=True).samples) == "mixed"
    music = decode(require(VIDEO / "big_buck_bunny_0_30.webm"), stereo=True).samples
    assert channel_mode(music) == "mixed"  # a stereo mix of music and effects
    left = split[:1]
    assert channel_mode(left) == "mono"
    import numpy as np

    assert channel_mode(np.concatenate([left, -left])) == "left"  # a mix would cancel
    assert channel_mode(np.concatenate([left, left * 0])) == "mixed"  # one silent channel
