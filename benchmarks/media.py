"""Audio ingest through docframe vs raw faster-whisper ``transcribe()``, same files, one run.

docframe: ``lake.ingest(files)`` into a fresh lake, the whole path: decode with PyAV in
an isolated worker, voice-activity detection, transcription, time-aware chunking,
embedding, Parquet segments, the catalog commit and the index build.

Raw: ``WhisperModel(<the same model folder>, same device and compute type, the same
CTranslate2 thread default)``, then ``transcribe(path, vad_filter=True,
word_timestamps=True)`` per file, one after the other, segments consumed, in this
process (the model loaded once, outside the timing, as a long-running service would).

docframe runs twice per round: with one extraction worker (``jobs=1``: the same work as
raw, one file at a time, so the difference is docframe's own overhead: decoding in a
worker process, chunking, embedding, writing, committing, indexing) and with its default
(one worker per CPU, files transcribed side by side).

Reported: media seconds, each run's real-time factor (media seconds per wall second),
``ratio_one_worker`` = docframe jobs=1 / raw (goal >= 0.9: the overhead is small next to
the model) and ``ratio`` = docframe default / raw. The turn order rotates over
``--rounds``; the best round of each counts.

Data: the English and FLEURS clips of ``../shared/corpus/audio`` (about 11 minutes).

    .venv/bin/python benchmarks/media.py --rounds 2
    .venv/bin/python benchmarks/media.py --model tiny.en --files ../shared/corpus/audio/jfk.wav
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO.parent / "shared" / "corpus" / "audio"


def clips(folder: Path) -> list[Path]:
    names = ["jfk.wav", "jfk.mp3", "jfk.flac", "librispeech_1089-134686-0001.wav"]
    found = [folder / n for n in names if (folder / n).exists()]
    found += sorted((folder / "fleurs").glob("*.ogg"))
    return found


def media_seconds(files: list[Path]) -> float:
    from docframe.connectors.media.decode import probe

    return sum(probe(f).duration_s or 0.0 for f in files)


def run_docframe(files: list[Path], model: str, jobs: int) -> float:
    """Wall seconds of one full ingest of ``files`` into a new lake."""
    import docframe
    from docframe.connectors.media.options import MediaOptions

    work = Path(tempfile.mkdtemp(prefix="docframe-media-bench-"))
    try:
        lake = docframe.open(work / "lake")
        start = time.perf_counter()
        report = lake.ingest(files, media_options=MediaOptions(asr_model=model), jobs=jobs)
        seconds = time.perf_counter() - start
        if not report.ok:
            raise SystemExit(f"docframe ingest failed: {report.failures[0].error}")
        return seconds
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_raw(files: list[Path], whisper: object) -> float:
    start = time.perf_counter()
    for f in files:
        segments, _ = whisper.transcribe(str(f), vad_filter=True, word_timestamps=True)
        for _ in segments:  # transcription happens as the generator is consumed
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="base", help="base, tiny.en or a CTranslate2 folder")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, turns rotating")
    parser.add_argument("--files", type=Path, nargs="*", help="audio files (default: corpus)")
    args = parser.parse_args()
    files = args.files or clips(AUDIO)
    if not files:
        raise SystemExit(f"no audio under {AUDIO}: the shared corpus is needed")
    from faster_whisper import WhisperModel

    from docframe.connectors.media import models

    resolved = models.resolve(args.model)
    where = models.runtime()
    whisper = WhisperModel(str(resolved.path), device=where.device, compute_type=where.compute_type)
    total = media_seconds(files)
    print(f"{len(files)} files, {total:.1f} s of audio, model {args.model} "
          f"({where.device}, {where.compute_type})", file=sys.stderr)  # fmt: skip
    run_docframe(files[:1], args.model, 1)  # warm: the model join, the worker, the embedder
    cpus = os.cpu_count() or 1
    runs: dict[str, list[float]] = {"one": [], "default": [], "raw": []}
    sides = list(runs)
    for i in range(args.rounds):
        for side in sides[i % 3 :] + sides[: i % 3]:
            if side == "raw":
                runs[side].append(run_raw(files, whisper))
            else:
                runs[side].append(run_docframe(files, args.model, 1 if side == "one" else cpus))
            print(f"round {i + 1} {side}: {runs[side][-1]:.1f} s", file=sys.stderr)
    rtf = {side: total / min(seconds) for side, seconds in runs.items()}
    print(f"docframe jobs=1 {rtf['one']:.1f}x real time | docframe jobs={cpus} "
          f"{rtf['default']:.1f}x | raw faster-whisper {rtf['raw']:.1f}x | ratio one worker "
          f"{rtf['one'] / rtf['raw']:.3f}, default {rtf['default'] / rtf['raw']:.3f}")  # fmt: skip
    print(
        json.dumps(
            {
                "files": len(files),
                "media_s": round(total, 1),
                "model": args.model,
                "device": where.device,
                "compute_type": where.compute_type,
                "cpus": os.cpu_count(),
                "docframe_one_worker_s": round(min(runs["one"]), 2),
                "docframe_s": round(min(runs["default"]), 2),
                "raw_s": round(min(runs["raw"]), 2),
                "docframe_one_worker_rtf": round(rtf["one"], 2),
                "docframe_rtf": round(rtf["default"], 2),
                "raw_rtf": round(rtf["raw"], 2),
                "ratio_one_worker": round(rtf["one"] / rtf["raw"], 3),
                "ratio": round(rtf["default"] / rtf["raw"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
