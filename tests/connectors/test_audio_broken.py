"""Bad audio input: each file ends as one ConnectorError line naming it, and in an
ingest as one failed outcome while the good file beside it is transcribed. The broken
files are made here from the shared corpus's real recordings (cut short, emptied,
remuxed without their sound) with PyAV."""

from __future__ import annotations

from pathlib import Path

import pytest

import docframe
from docframe.connectors import connector_for
from docframe.connectors.media import AudioConnector, MediaOptions
from docframe.errors import ConnectorError
from tests.connectors.audio_corpus import AUDIO, VIDEO, require

TINY = MediaOptions(asr_model="tiny.en")  # the failures come before any transcription


def _remux(source: Path, dest: Path, kind: str) -> Path:
    """``dest`` holding only the ``kind`` ("audio" or "video") stream of ``source``."""
    import av

    with av.open(str(source)) as src, av.open(str(dest), "w", format="matroska") as out:
        stream = getattr(src.streams, kind)[0]
        copy = out.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = copy
            out.mux(packet)
    return dest


def _broken(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what its error must say)"""
    mp3 = require(AUDIO / "jfk.mp3").read_bytes()
    flac = require(AUDIO / "jfk.flac").read_bytes()
    files = {
        "empty.wav": (b"", "empty file (0 bytes)"),
        "cut.mp3": (mp3[: len(mp3) // 2], "truncated: 5.5 s of audio decoded"),
        "cut.flac": (flac[: len(flac) // 2], "corrupt audio at"),
        "notes.mp3": (b"These are meeting notes, not a recording.\n" * 20, "not a media file"),
    }
    out = {}
    for name, (data, says) in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = (tmp_path / name, says)
    bunny = require(VIDEO / "big_buck_bunny_432_433.webm")
    out["picture.mka"] = (_remux(bunny, tmp_path / "picture.mka", "video"), "no audio stream")
    return out


def test_each_broken_file_is_one_line_naming_it(tmp_path):
    for name, (path, says) in _broken(tmp_path).items():
        connector = connector_for(path).configured(TINY)
        assert connector.name == "audio", name
        with pytest.raises(ConnectorError) as caught:
            list(connector.extract(path))
        message = caught.value.message
        assert message.startswith(f"{path}: ") and says in message, message
        assert "\n" not in str(caught.value) and caught.value.help, name


def test_an_unknown_model_is_refused_with_the_choices(tmp_path):
    path = require(AUDIO / "jfk.wav")
    connector = AudioConnector().configured(MediaOptions(asr_model="large-v9"))
    with pytest.raises(ConnectorError, match="unknown ASR model 'large-v9'") as caught:
        list(connector.extract(path))
    assert "base or tiny.en" in caught.value.help


def test_a_webm_of_sound_only_is_audio_and_a_film_is_not(tmp_path):
    bunny = require(VIDEO / "big_buck_bunny_432_433.webm")
    sound = _remux(bunny, tmp_path / "sound.webm", "audio")
    audio = AudioConnector()
    assert audio.accepts(sound) and not audio.accepts(bunny)
    assert connector_for(sound).name == "audio"
    [doc] = audio.configured(TINY).extract(sound)  # one second of music: no words
    assert doc.metadata["container"] == "matroska,webm" and doc.metadata["codec"] == "vorbis"
    assert doc.metadata["duration_s"] > 0
    if not doc.elements:
        assert doc.metadata["note"] in ("no speech found", "no words recognised in the speech")


def test_ingest_records_each_broken_file_and_goes_on(tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    broken = _broken(folder)
    (folder / "jfk.wav").write_bytes(require(AUDIO / "jfk.wav").read_bytes())
    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(folder, media_options=TINY, jobs=1)
    outcomes = {Path(o.input).name: o for o in report.outcomes}
    assert outcomes["jfk.wav"].status == "ingested"
    for name, (path, says) in broken.items():
        outcome = outcomes[name]
        assert outcome.status == "failed" and str(path) in outcome.error, name
        assert says in outcome.error and "\n" not in outcome.error
    rows = lake.sql(
        "SELECT modality, start_s, end_s, text, metadata->>'stream' AS stream FROM chunks"
    ).to_list()
    assert rows and all(r["modality"] == "audio" and r["stream"] == "speech" for r in rows)
    assert all(0.0 <= r["start_s"] < r["end_s"] <= 11.0 for r in rows)
    assert "fellow americans" in " ".join(r["text"] for r in rows).lower()
    within = lake.sql("SELECT count(*) AS n FROM chunks WHERE start_s BETWEEN 0 AND 5").to_list()
    assert within[0]["n"] >= 1
    [meta] = lake.sql(
        "SELECT metadata->>'language' AS language, metadata->>'codec' AS codec "
        "FROM documents WHERE modality = 'audio'"
    ).to_list()
    assert meta == {"language": "en", "codec": "pcm_s16le"}
