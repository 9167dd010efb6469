"""``docframe ingest`` on audio: the media options, the cut note, progress and timing."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from docframe.cli import app
from tests.connectors.audio_corpus import AUDIO

pytestmark = pytest.mark.skipif(
    not (AUDIO / "jfk.wav").exists(), reason="the shared corpus (../shared/corpus/audio) is absent"
)


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_a_cut_recording_says_so_and_its_chunks_stop_at_the_cut(tmp_path):
    shutil.copy(AUDIO / "jfk.wav", tmp_path / "jfk.wav")
    lake = str(tmp_path / "lake")
    result = run("--lake", lake, "ingest", str(tmp_path / "jfk.wav"), "--no-progress",
                 "--asr-model", "tiny.en", "--media-max-seconds", "4")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "note" in result.stderr and "4" in result.stderr  # never cut silently
    assert "transcription" in result.stderr  # the time: line names the stage
    rows = run("--lake", lake, "sql", "SELECT max(end_s) AS last, any_value(modality) AS m "
               "FROM chunks", "--format", "json")  # fmt: skip
    (row,) = json.loads(rows.stdout)
    assert row["m"] == "audio" and row["last"] <= 4.0 + 1e-6
    source = run("--lake", lake, "sql", "SELECT status, error FROM sources", "--format", "json")
    (src,) = json.loads(source.stdout)
    assert src["status"] == "ok" and "cut" in src["error"]  # the note, kept with the source


def test_bad_media_options_are_refused_once_before_any_file(tmp_path):
    shutil.copy(AUDIO / "jfk.wav", tmp_path / "a.wav")
    shutil.copy(AUDIO / "jfk.wav", tmp_path / "b.wav")
    result = run("--lake", str(tmp_path / "lake"), "ingest", str(tmp_path), "--no-progress",
                 "--asr-model", "enormous-v9")  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.count("enormous-v9") == 1 and "help:" in result.stderr
