"""Settings, resolved once: explicit arguments > environment > lake config file > defaults.

The environment is read here and nowhere else: :data:`ENVIRONMENT` lists every
``DOCFRAME_*`` variable with its meaning and default, and the small accessors
below are how the rest of docframe asks for one (a test scans the package for
any other reader). A lake may carry a ``docframe.toml`` whose keys are the
field names below; unknown keys are an error rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docframe.errors import DocframeError, did_you_mean

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CONFIG_FILE = "docframe.toml"

# what runs the embedding model (docframe.pipelines.embedding.choice): auto picks ONNX
# int8 on the CPU where it meets the quality gates, torch fp16 on a CUDA device
EMBED_BACKENDS = ("auto", "torch", "onnx", "onnx-int8")

# environment variable -> field
ENV = {
    "DOCFRAME_ENGINE": "engine",
    "DOCFRAME_MODEL": "model",
    "DOCFRAME_CHUNK_TOKENS": "chunk_tokens",
    "DOCFRAME_CHUNK_OVERLAP": "chunk_overlap",
    "DOCFRAME_EMBED_BATCH": "embed_batch",
    "DOCFRAME_EMBED_BACKEND": "embed_backend",
    "DOCFRAME_COMMIT_CHUNKS": "commit_chunks",
    "DOCFRAME_COMMIT_SECONDS": "commit_seconds",
    "DOCFRAME_INDEX_KIND": "index_kind",
}


@dataclass(frozen=True)
class Settings:
    engine: str = "auto"
    model: str = DEFAULT_MODEL
    chunk_tokens: int = 200  # all-MiniLM-L6-v2 reads at most 256 word pieces
    chunk_overlap: int = 32
    embed_batch: int = 0  # texts per model call; 0: the backend's own (measured) default
    embed_backend: str = "auto"  # one of EMBED_BACKENDS
    commit_chunks: int = 4096  # chunks per segment / snapshot during ingest
    # ...or sooner, once this much work waits uncommitted: a crash loses at most this
    commit_seconds: float = 30.0
    # dense index kind: auto picks by size (docframe.index.choose_kind), or e.g. faiss-hnsw
    index_kind: str = "auto"

    def __post_init__(self) -> None:
        if self.chunk_tokens < 16:
            raise DocframeError(
                f"chunk_tokens={self.chunk_tokens} is too small (minimum 16)",
                help="set chunk_tokens to 16 or more (the default is 200)",
            )
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise DocframeError(
                f"chunk_overlap={self.chunk_overlap} must be between 0 and chunk_tokens/2",
                help=f"set chunk_overlap below {self.chunk_tokens // 2} (the default is 32)",
            )
        if self.embed_batch < 0:
            raise DocframeError(
                "embed_batch must be at least 1 (or 0: the backend's default)",
                help="set embed_batch to 0 or a positive number of texts",
            )
        if self.commit_chunks < 1:
            raise DocframeError(
                "commit_chunks must be at least 1",
                help="set commit_chunks to a positive number (the default is 4096)",
            )
        if not self.commit_seconds > 0:
            raise DocframeError(
                f"commit_seconds={self.commit_seconds} must be above 0",
                help="set commit_seconds to a positive number (the default is 30)",
            )
        if self.embed_backend not in EMBED_BACKENDS:
            raise DocframeError(
                f"embed_backend {self.embed_backend!r} is not one of "
                f"{', '.join(EMBED_BACKENDS)}{did_you_mean(self.embed_backend, EMBED_BACKENDS)}",
                help="--embed-backend, DOCFRAME_EMBED_BACKEND or embed_backend in docframe.toml",
            )


def _coerce(name: str, value: Any, source: str) -> Any:
    field = {f.name: f for f in dataclasses.fields(Settings)}.get(name)
    if field is None:
        valid = ", ".join(f.name for f in dataclasses.fields(Settings))
        raise DocframeError(
            f"unknown setting {name!r} in {source}" + did_you_mean(name, valid.split(", ")),
            help=f"valid settings: {valid}",
        )
    if field.type == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise DocframeError(
                f"setting {name} in {source} must be an integer, got {value!r}",
                help=f"give {name} a whole number",
            ) from None
    if field.type == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise DocframeError(
                f"setting {name} in {source} must be a number, got {value!r}",
                help=f"give {name} a number",
            ) from None
    return str(value)


@dataclass(frozen=True)
class EnvVar:
    """One environment variable docframe reads: the README's configuration table."""

    name: str
    default: str
    meaning: str


_DEFAULTS = Settings()
# Click reads these two itself (``envvar=``), from the names here.
LAKE_VAR = "DOCFRAME_LAKE"
MCP_TOKEN_VAR = "DOCFRAME_MCP_TOKEN"
# Limits of the MCP server's agent calls: ``Limits`` field -> variable.
MCP_LIMITS = {
    "max_rows": "DOCFRAME_MCP_MAX_ROWS",
    "max_bytes": "DOCFRAME_MCP_MAX_BYTES",
    "timeout_s": "DOCFRAME_MCP_TIMEOUT_S",
    "memory_limit": "DOCFRAME_MCP_MEMORY_LIMIT",
}
DEFAULT_HISTORY = "~/.docframe_history"

ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar(LAKE_VAR, "./lake", "the lake directory of the CLI and the MCP server (`--lake`)"),
    EnvVar("DOCFRAME_ENGINE", _DEFAULTS.engine, "auto, cpu or gpu (`--engine`)"),
    EnvVar("DOCFRAME_MODEL", _DEFAULTS.model, "embedding model of a new lake (`init --model`)"),
    EnvVar("DOCFRAME_CHUNK_TOKENS", str(_DEFAULTS.chunk_tokens), "word pieces per chunk"),
    EnvVar(
        "DOCFRAME_CHUNK_OVERLAP", str(_DEFAULTS.chunk_overlap), "word pieces shared by neighbours"
    ),
    EnvVar(
        "DOCFRAME_EMBED_BATCH",
        str(_DEFAULTS.embed_batch),
        "texts per embedding batch (0: the backend's measured default)",
    ),
    EnvVar(
        "DOCFRAME_EMBED_BACKEND",
        _DEFAULTS.embed_backend,
        "auto, torch, onnx or onnx-int8 (`ingest --embed-backend`)",
    ),
    EnvVar("DOCFRAME_COMMIT_CHUNKS", str(_DEFAULTS.commit_chunks), "chunks per ingest commit"),
    EnvVar(
        "DOCFRAME_COMMIT_SECONDS",
        str(_DEFAULTS.commit_seconds),
        "seconds of ingest work between commits at most (commits sooner at `commit_chunks`)",
    ),
    EnvVar("DOCFRAME_INDEX_KIND", _DEFAULTS.index_kind, "dense index kind; auto picks by size"),
    EnvVar("DOCFRAME_ALLOW_DOWNLOAD", "unset", "`1`: a hub model name may be downloaded"),
    EnvVar("DOCFRAME_HISTORY", DEFAULT_HISTORY, "the SQL shell's history file"),
    EnvVar(MCP_LIMITS["max_rows"], "1000", "rows per agent SQL answer (`--max-rows`)"),
    EnvVar(MCP_LIMITS["max_bytes"], "1000000", "bytes of JSON per agent answer (`--max-bytes`)"),
    EnvVar(MCP_LIMITS["timeout_s"], "10.0", "seconds per agent SQL statement (`--timeout`)"),
    EnvVar(MCP_LIMITS["memory_limit"], "1GB", "DuckDB memory per statement (`--memory-limit`)"),
    EnvVar(MCP_TOKEN_VAR, "unset", "bearer token the MCP server over HTTP requires (`--token`)"),
    EnvVar(
        "DOCFRAME_FAILPOINT", "unset", "crash tests: `NAME:N` kills ingest the N-th time at `NAME`"
    ),
)
_NAMES = frozenset(var.name for var in ENVIRONMENT)


def env_value(name: str) -> str | None:
    """A listed variable's value, or None when unset or empty."""
    if name not in _NAMES:  # an unlisted variable is a bug here, not the user's
        raise KeyError(f"{name} is not in docframe.config.ENVIRONMENT")
    return os.environ.get(name) or None


def requested_engine() -> str | None:
    """``DOCFRAME_ENGINE``: the engine asked for when no argument names one."""
    return env_value("DOCFRAME_ENGINE")


def allow_download() -> bool:
    """``DOCFRAME_ALLOW_DOWNLOAD=1``: the one opt-in to fetching models at run time."""
    return env_value("DOCFRAME_ALLOW_DOWNLOAD") == "1"


def history_file() -> Path:
    """The SQL shell's history: ``$DOCFRAME_HISTORY`` or ``~/.docframe_history``."""
    return Path(env_value("DOCFRAME_HISTORY") or DEFAULT_HISTORY).expanduser()


def failpoint() -> tuple[str, int] | None:
    """``DOCFRAME_FAILPOINT=NAME[:N]``: crash tests kill ingest the N-th time (default
    1) it passes point NAME. None when unset."""
    value = env_value("DOCFRAME_FAILPOINT")
    if value is None:
        return None
    name, _, nth = value.partition(":")
    try:
        return name, int(nth or 1)
    except ValueError:
        raise DocframeError(
            f"DOCFRAME_FAILPOINT={value!r}: the count after ':' must be an integer",
            help="e.g. DOCFRAME_FAILPOINT=after-commit:2",
        ) from None


def mcp_limit_values(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The MCP limits set in ``env`` (default: the environment), ``Limits`` field -> raw
    text, skipping blank ones; :data:`MCP_LIMITS` names each one's variable."""
    env = os.environ if env is None else env
    values = {field: env.get(var) for field, var in MCP_LIMITS.items()}
    return {field: raw for field, raw in values.items() if raw is not None and raw.strip()}


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
            raise DocframeError(
                f"{path}: invalid TOML: {exc}", help="fix the file, or remove it for the defaults"
            ) from exc
        values.update({k: _coerce(k, v, str(path)) for k, v in data.items()})
    for var, name in ENV.items():
        if os.environ.get(var):
            values[name] = _coerce(name, os.environ[var], f"${var}")
    values.update({k: _coerce(k, v, "arguments") for k, v in overrides.items() if v is not None})
    return Settings(**values)


_MODEL_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def canonical_model_name(model: str) -> str:
    """The name recorded in the lake: aliases collapse, local paths become absolute."""
    if model in _MODEL_ALIASES:
        return DEFAULT_MODEL
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model
