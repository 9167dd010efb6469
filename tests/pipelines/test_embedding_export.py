"""The ONNX export cache: built once, never used half-written or damaged, safe to race.

Each test points ``XDG_CACHE_HOME`` (and so ``docframe.config.cache_dir()``) at its own
folder, so every build here is a real export from the packaged weights."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docframe.config import DEFAULT_MODEL
from docframe.pipelines.embedding import export_cache
from docframe.pipelines.embedding.choice import onnx_spec
from docframe.pipelines.embedding.onnx_export import FP32_FILE, INT8_FILE

SPEC = onnx_spec(DEFAULT_MODEL)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_valid(folder: Path) -> dict:
    manifest = json.loads((folder / export_cache.MANIFEST).read_text())
    assert set(manifest["files"]) == {FP32_FILE, INT8_FILE}
    for name, digest in manifest["files"].items():
        assert _sha(folder / name) == digest, name
    leftovers = [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary or discarded folder stays behind
    return manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One export, built in a cache of its own."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        folder, _ = export_cache.ensure(SPEC, INT8_FILE)
    return folder


def test_the_first_use_builds_a_checked_export(built):
    manifest = _assert_valid(built)
    assert built.name == export_cache.key(SPEC)
    assert manifest["model"] == DEFAULT_MODEL
    assert manifest["check"]["fp32"]["min"] >= 0.9999
    assert manifest["check"]["int8"]["passes"] is True


def _flip_a_byte(folder: Path) -> str:
    path = folder / INT8_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return INT8_FILE


def _cut_short(folder: Path) -> str:
    path = folder / FP32_FILE
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size // 3)
    return FP32_FILE


def _lose_the_manifest(folder: Path) -> str:
    (folder / export_cache.MANIFEST).unlink()  # as a build that died before its last step
    return INT8_FILE


@pytest.mark.parametrize("damage", [_flip_a_byte, _cut_short, _lose_the_manifest])
def test_a_damaged_export_is_rebuilt(built, damage, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = export_cache.folder(SPEC)
    folder.parent.mkdir(parents=True)
    shutil.copytree(built, folder)
    wanted = damage(folder)
    (folder / "marker").touch()
    again, manifest = export_cache.ensure(SPEC, wanted)
    assert again == folder
    assert not (folder / "marker").exists()  # a new folder, renamed into place
    _assert_valid(folder)
    assert manifest["check"]["int8"]["passes"] is True


def test_an_intact_export_is_used_as_it_is(built, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = export_cache.folder(SPEC)
    folder.parent.mkdir(parents=True)
    shutil.copytree(built, folder)
    before = folder.stat().st_ino, {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    export_cache.ensure(SPEC, INT8_FILE)
    assert (
        folder.stat().st_ino,
        {p.name: p.stat().st_mtime_ns for p in folder.iterdir()},
    ) == before


@pytest.mark.slow
def test_two_first_uses_at_once_both_succeed_with_one_export(tmp_path):
    code = (
        "import hashlib\n"
        "from docframe.pipelines.embedding import Embedder\n"
        "v = Embedder(backend='onnx-int8').encode(['two processes, one export'])\n"
        "print(hashlib.sha256(v.tobytes()).hexdigest())\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    assert outputs[0][0] == outputs[1][0]  # the same vector: the same export
    exports = list((tmp_path / "docframe" / "embeddings").iterdir())
    assert [p.name for p in exports] == [export_cache.key(SPEC)]
    _assert_valid(exports[0])
