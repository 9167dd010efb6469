"""Vectors not made twice, and what re-embedding a lake costs, on SciFact abstracts.

In one run, on a fresh temporary lake holding the first ``--docs`` SciFact abstracts as
one ``.jsonl`` collection (one source, so any edit changes the whole file):

1. ingest it with the default CPU backend (``auto``): the model's seconds for every chunk;
2. append a sentence to every ``--every``-th abstract and ingest the file again: only
   the chunks whose embedded text changed are embedded, the rest take their stored
   vectors (``reused``); the model's seconds for that;
3. ``reembed`` the lake with each backend in turn (torch fp32, ONNX fp32, back to the
   default): wall seconds and chunks/s, the dense index rebuild included.

Timings are wall seconds of the ingest's own "embed" stage (reuse lookups included) and
of the whole ``reembed``. The last line is one JSON object.

    .venv/bin/python benchmarks/reembed.py              # 400 abstracts, ~3 min on 2 cores
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "corpus" / "retrieval" / "scifact"


def write(docs: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--every", type=int, default=40, help="edit every N-th abstract")
    args = parser.parse_args()
    corpus = args.data / "corpus.jsonl.gz"
    if not corpus.is_file():
        raise SystemExit(f"no SciFact corpus at {corpus} (--data DIR)")

    import docframe
    from docframe.pipelines.embedding import Embedder
    from docframe.pipelines.reembed import reembed

    with gzip.open(corpus, "rt") as fh:
        docs = [json.loads(line) for _, line in zip(range(args.docs), fh, strict=False)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scifact.jsonl"
        write(docs, path)
        lake = docframe.open(Path(tmp) / "lake")
        default = lake.embedder
        default.encode(["warm up"])  # model load and export outside the timings
        first = lake.ingest(path)
        for d in docs[:: args.every]:
            d["text"] += " This sentence was added in an edit."
        write(docs, path)
        second = lake.ingest(path)
        row = {
            "docs": len(docs),
            "chunks": first.n_chunks,
            "edited_docs": len(docs[:: args.every]),
            "default_backend": default.identity,
            "ingest_embedded": first.embedded,
            "ingest_embed_s": round(first.seconds["embed"], 2),
            "reingest_embedded": second.embedded,
            "reingest_reused": second.reused,
            "reingest_embed_s": round(second.seconds["embed"], 2),
            "reembed_s": {},
            "reembed_chunks_s": {},
        }
        print(f"ingest: {first.vectors()}; embedding {first.seconds['embed']:.1f} s")
        print(f"re-ingest after editing: {second.vectors()}; "
              f"embedding {second.seconds['embed']:.2f} s")  # fmt: skip
        for backend in ("torch", "onnx", default.requested):
            embedder = Embedder(lake.model, "cpu", backend=backend)
            embedder.encode(["warm up"])
            report = reembed(lake.store, embedder)
            print(f"reembed -> {embedder.identity}: {report.chunks} chunks in "
                  f"{report.seconds:.1f} s ({report.index})")  # fmt: skip
            row["reembed_s"][embedder.identity] = round(report.seconds, 1)
            row["reembed_chunks_s"][embedder.identity] = round(report.chunks / report.seconds, 1)
        row["cpus"] = os.cpu_count()
        print(json.dumps(row))


if __name__ == "__main__":
    main()
