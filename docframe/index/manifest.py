"""The ``index.json`` manifest every saved index carries.

A reader opening a saved index must not have to know which engine built it:
``load_index`` reads the manifest's ``kind`` and dispatches, and each kind's
``load`` restores its ``params`` so a reloaded index searches exactly like the
one that was saved. One writer and one reader keep every kind's manifest alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MANIFEST = "index.json"
FORMAT_VERSION = 2  # 2: "params" recorded; version-1 manifests (no params) still load


def write_manifest(
    directory: Path,
    kind: str,
    dim: int,
    count: int,
    params: dict[str, Any] | None = None,
    **extra: Any,
) -> None:
    """Record what is in ``directory`` so ``load_index`` can dispatch without guessing,
    and the parameters, so a reloaded index searches exactly like the saved one."""
    doc = {
        "kind": kind,
        "dim": int(dim),
        "count": int(count),
        "format_version": FORMAT_VERSION,
        "params": dict(params or {}),
        **extra,
    }
    (Path(directory) / MANIFEST).write_text(json.dumps(doc, indent=2) + "\n")


def read_manifest(directory: Path, expect_kind: str | None = None) -> dict:
    """Read ``index.json``; with ``expect_kind``, refuse an index of another kind."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {MANIFEST}; not a saved docframe index")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object")
    if expect_kind is not None and doc.get("kind") != expect_kind:
        raise ValueError(f"{directory}: holds a {doc.get('kind')!r} index, not {expect_kind!r}")
    return doc
