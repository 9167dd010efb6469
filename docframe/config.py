"""Settings, resolved once: explicit arguments > environment > lake config file > defaults.

The environment is read here and nowhere else. A lake may carry a
``docframe.toml`` whose keys are the field names below; unknown keys are an
error rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docframe.errors import DocframeError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CONFIG_FILE = "docframe.toml"

# environment variable -> field
ENV = {
    "DOCFRAME_ENGINE": "engine",
    "DOCFRAME_MODEL": "model",
    "DOCFRAME_CHUNK_TOKENS": "chunk_tokens",
    "DOCFRAME_CHUNK_OVERLAP": "chunk_overlap",
    "DOCFRAME_EMBED_BATCH": "embed_batch",
    "DOCFRAME_COMMIT_CHUNKS": "commit_chunks",
    "DOCFRAME_INDEX_KIND": "index_kind",
}


@dataclass(frozen=True)
class Settings:
    engine: str = "auto"
    model: str = DEFAULT_MODEL
    chunk_tokens: int = 200  # all-MiniLM-L6-v2 reads at most 256 word pieces
    chunk_overlap: int = 32
    embed_batch: int = 64
    commit_chunks: int = 4096  # chunks per segment / snapshot during ingest
    # dense index kind: auto picks by size (docframe.index.choose_kind), or e.g. faiss-hnsw
    index_kind: str = "auto"

    def __post_init__(self) -> None:
        if self.chunk_tokens < 16:
            raise DocframeError(f"chunk_tokens={self.chunk_tokens} is too small (minimum 16)")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise DocframeError(
                f"chunk_overlap={self.chunk_overlap} must be between 0 and chunk_tokens/2"
            )
        for name in ("embed_batch", "commit_chunks"):
            if getattr(self, name) < 1:
                raise DocframeError(f"{name} must be at least 1")


def _coerce(name: str, value: Any, source: str) -> Any:
    field = {f.name: f for f in dataclasses.fields(Settings)}.get(name)
    if field is None:
        valid = ", ".join(f.name for f in dataclasses.fields(Settings))
        raise DocframeError(f"unknown setting {name!r} in {source}; valid settings: {valid}")
    if field.type == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise DocframeError(
                f"setting {name} in {source} must be an integer, got {value!r}"
            ) from None
    return str(value)


def cache_dir() -> Path:
    """Per-user folder for derived data docframe may not write into a lake.

    A read-only lake (read-only mount, or files this user may not write) still
    needs its search indexes somewhere: ``$XDG_CACHE_HOME/docframe``, else
    ``~/.cache/docframe`` (the XDG base-directory convention).
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "docframe"


def load_settings(lake_root: Path | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {}
    if lake_root is not None and (lake_root / CONFIG_FILE).is_file():
        path = lake_root / CONFIG_FILE
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise DocframeError(f"{path}: invalid TOML: {exc}") from exc
        values.update({k: _coerce(k, v, str(path)) for k, v in data.items()})
    for var, name in ENV.items():
        if os.environ.get(var):
            values[name] = _coerce(name, os.environ[var], f"${var}")
    values.update({k: _coerce(k, v, "arguments") for k, v in overrides.items() if v is not None})
    return Settings(**values)
