"""``docframe index export --to hnswlib``: a CAGRA graph built on a GPU, served by CPUs.

A lake indexed on a GPU machine holds its CAGRA base under
``indexes/dense-cuvs/<snapshot>/``; a CPU-only process reads the CPU family's
folder, ``indexes/dense-faiss/``, and would otherwise build a faiss index of its own
(exact below 50,000 chunks, an HNSW graph above: minutes at a million chunks). The
export converts the CAGRA graph with cuVS (``cuvs_hnsw.export_cagra_to_hnsw``:
``hnsw.from_cagra`` with ``hierarchy="cpu"``, a file in hnswlib's own format) and
records it as the CPU family's base at the CAGRA base's snapshot: the same rows
(``rows.parquet``), vectors and checksummed ``manifest.json`` as any base, with
``kind: hnswlib`` and ``exported_from`` (the CAGRA folder, its parameters and
snapshot). From then on a CPU process opening the lake loads that graph through
the ordinary path (``store.ensure_index`` -> ``load_index`` -> ``HnswlibIndex``),
searches it with the delta and mask like any base, and ``index check``/``tune``
measure and tune its ``ef_search``.

Only the conversion needs the GPU (cuVS reads the graph and dataset from the
device); :func:`adopt_hnswlib` -- checking the exported file with hnswlib itself
and recording it -- runs anywhere, which is what the CPU tests exercise with a
graph hnswlib builds from the lake's own vectors.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe.errors import QueryError

if TYPE_CHECKING:
    from docframe.index.store import Base
    from docframe.lake.store import LakeStore

TARGETS = ("hnswlib",)
SOURCE_KIND = "cuvs-cagra"
GPU_FAMILY, CPU_FAMILY = "cuvs", "faiss"
BUILD_CAGRA = "docframe --engine gpu index build --kind cuvs-cagra"
EXPORT_ON_GPU = "docframe --engine gpu index export --to hnswlib"


def _manifest(directory: Path) -> dict[str, Any] | None:
    from docframe.index.store import MANIFEST

    try:
        doc = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def gpu_bases(store: LakeStore, snapshot_id: int) -> list[tuple[int, Path, dict[str, Any]]]:
    """The GPU family's saved bases at or before ``snapshot_id``, newest first, with their
    manifests (read as JSON: no cuVS needed to say what a GPU machine left)."""
    from docframe.index.store import family_dir

    folder = family_dir(store.root, GPU_FAMILY)
    found = []
    for path in folder.iterdir() if folder.is_dir() else []:
        if path.is_dir() and path.name.isdigit() and int(path.name) <= snapshot_id:
            manifest = _manifest(path)
            if manifest is not None:
                found.append((int(path.name), path, manifest))
    return sorted(found, key=lambda item: item[0], reverse=True)


def _relative(store: LakeStore, path: Path) -> str:
    return str(path.relative_to(store.root))


def export_index(store: LakeStore, *, to: str = "hnswlib") -> dict[str, Any]:
    """Export the newest CAGRA base to ``to`` (``hnswlib``) for CPU-only readers."""
    from docframe.index.store import _load_base, family_dir
    from docframe.lake.lock import check_writable

    if to not in TARGETS:
        raise QueryError(f"cannot export to {to!r}", help=f"use --to {' or '.join(TARGETS)}")
    check_writable(store.root)  # the export is written into the lake, for every reader
    snapshot = store.snapshot()
    bases = gpu_bases(store, snapshot.snapshot_id)
    cagra = [(sid, path) for sid, path, m in bases if m.get("kind") == SOURCE_KIND]
    if not cagra:
        kinds = sorted({str(m.get("kind")) for _, _, m in bases})
        held = f" (its GPU indexes: {', '.join(kinds)})" if kinds else ""
        raise QueryError(
            f"lake {store.root} has no CAGRA index to export{held}",
            help=f"build one on a GPU machine with `{BUILD_CAGRA}`, then export it there",
        )
    sid, directory = cagra[0]
    target = family_dir(store.root, CPU_FAMILY) / str(sid)
    done = _manifest(target)
    source = _relative(store, directory)
    if done and (done.get("exported_from") or {}).get("directory") == source:
        return _record(store, target, done, seconds=0.0, already=True)
    if store.backend.index_family != GPU_FAMILY:
        raise QueryError(
            f"the CAGRA index {source} can only be exported on a GPU machine "
            f"(engine here: {store.backend.name}; cuVS reads the graph from the device)",
            help=f"run `{EXPORT_ON_GPU}` where it was built (pip install 'docframe[gpu-cu12]')",
        )
    start = time.perf_counter()
    stamp = snapshot.committed_at(sid)
    base = _load_base(directory, snapshot.model, snapshot.embedder, stamp, root=store.root)
    if base is None or base.kind != SOURCE_KIND:
        raise QueryError(
            f"the CAGRA index {source} could not be loaded for this lake's snapshot {sid}",
            help=f"rebuild it with `{BUILD_CAGRA}`, then export again",
        )
    from docframe.index.cuvs_hnsw import export_cagra_to_hnsw

    with tempfile.TemporaryDirectory(dir=target.parent.parent, prefix=".export-") as tmp:
        graph = export_cagra_to_hnsw(base.index, Path(tmp) / "graph")
        adopted = adopt_hnswlib(store, base, graph)
    return _record(
        store, adopted.directory, _manifest(adopted.directory) or {},
        seconds=time.perf_counter() - start,
    )  # fmt: skip


def adopt_hnswlib(store: LakeStore, source: Base, graph: Path) -> Base:
    """Record the hnswlib index in ``graph`` (labels = ``source``'s positions) as the CPU
    family's base at ``source``'s snapshot, beside ``source``'s rows and vectors.

    ``graph`` is what ``export_cagra_to_hnsw`` writes (``index.hnsw``, ``ids.npy``,
    ``index.json``); it is loaded with hnswlib first, so a file the CPU side cannot
    read is refused here, not by the first reader. A base already in that folder (a
    faiss index a CPU process built at the same snapshot) is replaced.
    """
    from docframe.index.cuvs_hnsw import HnswlibIndex
    from docframe.index.store import _BASES, _VIEWS, family_dir, save_base

    index = HnswlibIndex.load(Path(graph))
    if len(index) != len(source) or index.dim != int(source.index.dim):
        raise QueryError(
            f"exported graph {graph} holds {len(index)} vectors of {index.dim} dims, "
            f"its source {len(source)} of {source.index.dim}",
            help="export again from the GPU machine",
        )
    directory = family_dir(store.root, CPU_FAMILY) / str(source.snapshot_id)
    base = dataclasses.replace(  # the source's rows and vectors, the exported graph
        source,
        directory=directory,
        index=index,
        lake_root=store.root,
        origin={
            "kind": source.kind,
            "directory": _relative(store, source.directory),
            "snapshot_id": source.snapshot_id,
            "params": dict(source.index.params),
            "exported_at": time.time(),
        },
    )
    if (_manifest(directory) or {}).get("kind") == index.kind:
        shutil.rmtree(directory)  # an earlier export (save_base keeps a base of its kind)
    save_base(base)  # replaces a faiss base a CPU process built at this snapshot
    if (_manifest(directory) or {}).get("exported_from") != base.origin:
        raise QueryError(
            f"another process wrote {_relative(store, directory)} during the export",
            help="run the export again",
        )
    root = str(store.root)
    for cache in (_BASES, _VIEWS):  # this process reloads: the export is the base now
        cache.discard(lambda key: key[0] == root and key[-1] == CPU_FAMILY)
    return base


def _record(
    store: LakeStore,
    directory: Path,
    manifest: dict[str, Any],
    *,
    seconds: float,
    already: bool = False,
) -> dict[str, Any]:
    origin = manifest.get("exported_from") or {}
    return {
        "exported": _relative(store, directory),
        "kind": manifest.get("kind"),
        "from": origin.get("directory"),
        "snapshot": manifest.get("snapshot_id"),
        "chunks": manifest.get("count"),
        "params": manifest.get("params"),
        "seconds": round(seconds, 3),
        "already_exported": already,
    }
