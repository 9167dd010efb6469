"""The ONNX exports, kept per user: built once, checksummed once per process (and again
after a file changed).

``cache_dir()/embeddings/<key>/`` holds one model's export for one onnxruntime version
(the key hashes the model's name and files' sizes and times, the onnxruntime version and
:data:`FORMAT`): the two graphs and ``manifest.json``, which records each file's SHA-256
and the export's quality check. Nothing else writes there.

- A build happens in a temporary folder beside the final one and is renamed into place
  in one step, the manifest written last: a half-written export is never seen.
- Two processes building at once both finish; the first rename wins and the other
  process drops its own copy and uses the winner's.
- A folder whose manifest is missing or unreadable, or whose file does not match its
  checksum (a flipped byte, a cut file), is moved aside and built again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from docframe import config
from docframe.errors import DocframeError
from docframe.lake.segments import fsync_path
from docframe.pipelines.embedding.model_dir import ModelSpec

FORMAT = 1  # bump when the export's recipe changes: old folders are then ignored
MANIFEST = "manifest.json"
_STALE_S = 24 * 3600  # temporary folders older than this are a crashed build's leftovers
# files whose checksum this process has checked, with the (size, mtime) they had then
_VERIFIED: dict[Path, tuple[int, int]] = {}
_LOCK = threading.Lock()


def root() -> Path:
    return config.cache_dir() / "embeddings"


def key(spec: ModelSpec) -> str:
    """The export folder's name: changes when the model's files or onnxruntime change."""
    import onnxruntime

    files = sorted(p for p in spec.root.rglob("*") if p.is_file() and ".git" not in p.parts)
    stats = [(str(p.relative_to(spec.root)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    data = json.dumps([FORMAT, spec.name, str(spec.root), onnxruntime.__version__, stats])
    return hashlib.sha256(data.encode()).hexdigest()[:24]


def folder(spec: ModelSpec) -> Path:
    return root() / key(spec)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The export's manifest, or None when it is missing or unreadable."""
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else None


def _valid(path: Path, manifest: dict[str, Any] | None, wanted: str) -> bool:
    """``wanted`` is listed and matches its SHA-256 (checked once per process)."""
    if manifest is None or wanted not in manifest["files"]:
        return False
    file = path / wanted
    try:
        stat = file.stat()
        if _VERIFIED.get(file) == (stat.st_size, stat.st_mtime_ns):
            return True
        ok = _sha256(file) == manifest["files"][wanted]
    except OSError:
        return False
    if ok:
        _VERIFIED[file] = (stat.st_size, stat.st_mtime_ns)
    return ok


def ensure(spec: ModelSpec, wanted: str) -> tuple[Path, dict[str, Any]]:
    """The export folder holding a verified ``wanted`` file, and its manifest; builds (or
    rebuilds) the export when there is none or it is damaged."""
    final = folder(spec)
    with _LOCK:
        manifest = read_manifest(final)
        if _valid(final, manifest, wanted):
            assert manifest is not None
            return final, manifest
        _discard(final)  # missing, partial or corrupt: none of it is used
        _build(spec, final)
        manifest = read_manifest(final)
        if not _valid(final, manifest, wanted):
            raise DocframeError(
                f"the ONNX export of {spec.name!r} in {final} failed its checksum right "
                "after it was written",
                help=f"check the disk, remove {final} and retry; or --embed-backend torch",
            )
        assert manifest is not None
        return final, manifest


def _discard(path: Path) -> None:
    """Move a damaged export out of the way (atomically), then delete it."""
    if not path.exists():
        return
    trash = path.with_name(f".trash-{path.name}-{os.getpid()}-{time.monotonic_ns()}")
    with contextlib.suppress(FileNotFoundError):  # another process moved it first
        path.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)
    for gone in [p for p in _VERIFIED if p.parent == path]:
        del _VERIFIED[gone]


def _build(spec: ModelSpec, final: Path) -> None:
    from docframe.pipelines.embedding import onnx_export

    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        _sweep(final.parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    except OSError as exc:
        raise DocframeError(
            f"cannot write the ONNX export of {spec.name!r} under {final.parent}: "
            f"{exc.strerror or exc}",
            help="set XDG_CACHE_HOME to a writable folder, or use --embed-backend torch",
        ) from None
    try:
        check = onnx_export.build(spec, tmp)
        files = {f.name: _sha256(f) for f in sorted(tmp.iterdir())}
        manifest = {
            "format": FORMAT,
            "model": spec.name,
            "source": str(spec.root),
            "onnxruntime": _ort_version(),
            "files": files,
            "check": check,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        _write_synced(tmp / MANIFEST, json.dumps(manifest, indent=1))
        for f in tmp.iterdir():
            fsync_path(f)
        try:
            tmp.rename(final)  # atomic; fails when another process's export is there
        except OSError:
            if read_manifest(final) is None:  # not a finished export: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _sweep(parent: Path) -> None:
    """Remove temporary folders of builds that crashed (older than a day)."""
    for leftover in parent.glob(".t*-*"):
        with contextlib.suppress(OSError):
            if time.time() - leftover.stat().st_mtime > _STALE_S:
                shutil.rmtree(leftover, ignore_errors=True)


def _ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
