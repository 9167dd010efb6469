"""The agent tools as plain Python: :class:`LakeTools` runs them against one lake.

Every call pins the newest committed snapshot, so answers stay consistent while an
ingest commits beside them, and every SQL statement goes through the sandbox
(``docframe.mcp.sandbox``). The tools' parts live beside this module: ``schemas``
(what a model sees: :func:`tool_specs`, :func:`export_tools`), ``arguments``
(:func:`check_arguments`), ``catalog`` (list_tables, describe_table), ``filters``
(:func:`filters_to_where`) and ``provenance`` (:func:`citation`); their public names
are importable from here too.

Document text is untrusted: a PDF can say "ignore your instructions". Results
carry provenance (source, page, bbox, seconds, character range) and a
``content_notice``, and the tool descriptions tell the model that retrieved text
is data to cite, never instructions to follow.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe.errors import DocframeError, QueryError, ToolArgumentError, did_you_mean
from docframe.mcp import catalog
from docframe.mcp.arguments import check_arguments
from docframe.mcp.catalog import RELATION_DOCS
from docframe.mcp.filters import filters_to_where
from docframe.mcp.provenance import chunk_view, citation, format_seconds
from docframe.mcp.sandbox import (
    MAX_SEARCH_K,
    Limits,
    Sandbox,
    check_search_text,
    scrub,
    within_time_limit,
)
from docframe.mcp.sandbox.limits import json_size
from docframe.mcp.schemas import (
    CONTENT_NOTICE,
    MAX_SAMPLE_ROWS,
    MAX_TOOL_K,
    MAX_WINDOW,
    MODALITIES,
    SEARCH_MODES,
    ToolSpec,
    export_tools,
    tool_specs,
)

if TYPE_CHECKING:
    from docframe.api import Lake

__all__ = [
    "CONTENT_NOTICE",
    "MAX_SAMPLE_ROWS",
    "MAX_TOOL_K",
    "MAX_WINDOW",
    "MODALITIES",
    "RELATION_DOCS",
    "SEARCH_MODES",
    "LakeTools",
    "ToolArgumentError",
    "ToolSpec",
    "check_arguments",
    "citation",
    "export_tools",
    "filters_to_where",
    "format_seconds",
    "tool_specs",
]

_CONTEXT = """
WITH hit AS (SELECT doc_id, ordinal FROM chunks WHERE chunk_id = ?)
SELECT c.* EXCLUDE (embedding), d.title AS title, c.chunk_id = ? AS is_hit
FROM chunks c JOIN hit h ON c.doc_id = h.doc_id
  AND c.ordinal BETWEEN h.ordinal - ? AND h.ordinal + ?
LEFT JOIN documents d ON d.doc_id = c.doc_id
ORDER BY c.ordinal
"""
_DOCUMENT = """
SELECT doc_id, doc_key, title, source_uri, modality, n_chunks FROM documents
WHERE doc_id = (SELECT doc_id FROM chunks WHERE chunk_id = ? LIMIT 1)
"""


class LakeTools:
    """The tools over one lake; each call pins the newest committed snapshot.

    Safe to call from many threads at once (the MCP server runs each call in a
    worker thread): SQL runs in the sandbox's worker processes, and the embedding
    model is loaded once behind a lock.
    """

    def __init__(
        self,
        lake: Lake,
        *,
        limits: Limits | None = None,
        ingest_roots: Sequence[str | Path] = (),
    ) -> None:
        self.lake = lake
        self.sandbox = Sandbox(limits)
        self.ingest_roots = tuple(Path(r).expanduser().resolve() for r in ingest_roots)
        self.specs = {
            s.name: s
            for s in tool_specs(allow_ingest=bool(self.ingest_roots), limits=self.sandbox.limits)
        }
        self._model_lock = threading.Lock()
        self._model_ready = False
        self._ingest_lock = threading.Lock()

    @property
    def limits(self) -> Limits:
        return self.sandbox.limits

    def close(self) -> None:
        self.sandbox.close()

    def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run tool ``name`` with JSON ``arguments``; errors are DocframeErrors naming the input."""
        spec = self.specs.get(name)
        if spec is None:
            raise ToolArgumentError(
                f"unknown tool {name!r}" + did_you_mean(name, self.specs),
                help=f"tools: {', '.join(self.specs)}",
            )
        try:
            return getattr(self, name)(**check_arguments(spec, arguments))
        except DocframeError as exc:  # agents are not told where the lake's files are
            root = str(self.lake.root)
            exc.message = scrub(exc.message, root)
            exc.help = exc.help and scrub(exc.help, root)
            exc.args = (exc.message,)
            raise

    # -- catalog -----------------------------------------------------------------
    def list_tables(self) -> dict[str, Any]:
        """Every relation with its row count, columns and types (chunks: per modality)."""
        return catalog.list_tables(self.sandbox, self.lake.snapshot())

    def describe_table(self, name: str, sample_rows: int = 3) -> dict[str, Any]:
        """One relation: columns, row count, provenance and a few sample rows."""
        return catalog.describe_table(self.sandbox, self.lake.snapshot(), name, sample_rows)

    # -- SQL -------------------------------------------------------------------------
    def sql(self, query: str) -> dict[str, Any]:
        """One read-only statement in the sandbox (search functions included)."""
        if "search" in query.lower():
            self._warm_model()
        answer = self.sandbox.run(self.lake, self.lake.snapshot(), query).to_dict()
        answer["content_notice"] = CONTENT_NOTICE
        return answer

    # -- search ------------------------------------------------------------------------
    def search(
        self,
        text: str,
        mode: str = "hybrid",
        k: int = 10,
        filters: Mapping[str, Any] | None = None,
        per_document: bool = False,
    ) -> dict[str, Any]:
        """The k best chunks for ``text`` with provenance and citations; ``info`` says
        how many chunks were eligible and whether the search was exhausted.
        ``per_document``: the best chunk of each of k distinct documents, so an agent
        asking "which documents?" gets k of them, not one document's chunks k times."""
        if not text.strip():
            raise ToolArgumentError("search: text is empty", help="give a question or keywords")
        check_search_text(text)
        k = min(int(k), MAX_SEARCH_K)
        where = filters_to_where(filters or {})
        snap = self.lake.snapshot()
        allowed = None if where is None else self.sandbox.chunk_ids(snap, where)
        if mode != "keyword":
            self._warm_model()
        self.lake.prepare_search(snap, {mode})  # one-off index loads are not timed
        result = within_time_limit(
            self.limits,
            lambda: self.lake.search(
                text,
                k,
                mode=mode,
                where=where,
                snapshot=snap,
                allowed_ids=allowed,
                per_document=bool(per_document),
            ),
        )
        hits = []
        for row in result.to_list():
            hit = {"rank": row["rank"], "score": round(float(row["score"]), 6)}
            hit.update(chunk_view(row))
            hits.append(hit)
        info = result.info
        answer: dict[str, Any] = {
            "snapshot": snap.snapshot_id,
            "info": {
                "mode": mode,
                "k": k,
                "filters": dict(filters or {}),
                "per_document": bool(per_document),
                "returned": len(hits),
                "candidates": info.get("candidates"),
                "exhausted": bool(info.get("exhausted")),
                "reason": (info.get("reason") or "").replace("--where", "the filters") or None,
            },
            "hits": hits,
            "content_notice": CONTENT_NOTICE,
        }
        while len(hits) > 1 and json_size(answer) > self.limits.max_bytes:
            hits.pop()
            answer["info"]["truncated"] = "max_bytes"
            answer["info"]["returned"] = len(hits)
        return answer

    def warm(self) -> None:
        """Start a SQL worker and load the embedding model now, so the first calls
        do not wait for them (the server does this in the background at start)."""
        self.sandbox.query(self.lake.snapshot(), "SELECT 1")
        self._warm_model()

    def _warm_model(self) -> None:
        """Load the embedding model (and run it once) before the first search is timed,
        once, not once per concurrent first caller: ``Lake.query_encoder`` loads lazily."""
        if self._model_ready:
            return
        with self._model_lock:
            if not self._model_ready:
                self.lake.query_encoder().encode(["warm up"])
                self._model_ready = True

    # -- context -------------------------------------------------------------------------
    def get_context(self, chunk_id: str, window: int = 1) -> dict[str, Any]:
        """A chunk, its neighbours in the same document and its citation."""
        snap = self.lake.snapshot()
        hit, doc = self.sandbox.query_many(
            snap,
            [
                (_CONTEXT, [chunk_id, chunk_id, int(window), int(window)]),
                (_DOCUMENT, [chunk_id]),
            ],
        )
        rows = hit.rows
        found = [r for r in rows if r["is_hit"]]
        if not found:
            raise QueryError(
                f"no chunk {chunk_id!r} in snapshot {snap.snapshot_id}",
                help="chunk ids come from search results or SELECT chunk_id FROM chunks",
            )
        row = found[0]
        ordinal = int(row["ordinal"])
        near = [r for r in rows if not r["is_hit"]]
        doc = doc.rows
        chunk = chunk_view(row)
        before = [chunk_view(r, with_document=False) for r in near if int(r["ordinal"]) < ordinal]
        after = [chunk_view(r, with_document=False) for r in near if int(r["ordinal"]) > ordinal]
        answer: dict[str, Any] = {
            "snapshot": snap.snapshot_id,
            "chunk_id": chunk_id,
            "citation": chunk["citation"],
            "thumbnail": chunk.get("thumbnail"),  # video: what was on screen (lake-relative)
            "document": doc[0] if doc else None,
            "chunk": chunk,
            "before": before,
            "after": after,
            "content_notice": CONTENT_NOTICE,
        }
        while (before or after) and json_size(answer) > self.limits.max_bytes:
            if len(before) >= len(after):
                before.pop(0)  # the farthest neighbours go first
            else:
                after.pop()
            answer["truncated"] = "max_bytes"
        return answer

    # -- writing (only when the operator enabled it) ---------------------------------------
    def ingest(self, paths: Sequence[str]) -> dict[str, Any]:
        """Ingest files under the allowed folders; anything else is refused by name.

        A path named outside the folders refuses the whole call. Folders are
        walked following links, but every file found is checked by its real
        path: a link inside an allowed folder cannot lead the agent out of it
        (each such file is a failed outcome naming it; the rest goes on).
        """
        if not self.ingest_roots:
            raise ToolArgumentError(
                "ingest is not enabled on this server",
                help="the operator enables it with: docframe serve --mcp --allow-ingest DIR",
            )
        resolved = [self._ingest_path(i, raw) for i, raw in enumerate(paths)]
        with self._ingest_lock:
            report = self.lake.ingest(
                resolved, progress=False, follow_symlinks=True, allowed_roots=self.ingest_roots
            )
        return {
            "snapshot": report.snapshot_id,
            "summary": report.summary(),
            "outcomes": [
                {
                    "input": o.input,
                    "status": o.status,
                    "chunks": o.n_chunks,
                    "tables": o.tables,
                    "error": o.error,
                    "help": o.help,  # an unsupported file: what would read it
                    "notes": o.notes,
                }
                for o in report.outcomes
            ],
        }

    def _ingest_path(self, index: int, raw: str) -> Path:
        """The real path of ``paths[index]``, or a ToolArgumentError naming the argument."""
        where = f"ingest: paths[{index}] {raw!r}"
        if "\x00" in raw:
            raise ToolArgumentError(
                f"ingest: paths[{index}] contains a NUL byte", help="give a plain file path"
            )
        try:
            path = Path(raw).expanduser()
            if not path.is_absolute():
                path = self.ingest_roots[0] / path
            path = path.resolve()
            exists = path.exists()
        except (OSError, RuntimeError) as exc:  # too long, a link loop, ...
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ToolArgumentError(
                f"{where}: not a usable path ({reason})", help="give a shorter, plain path"
            ) from None
        if not any(path == root or path.is_relative_to(root) for root in self.ingest_roots):
            raise ToolArgumentError(
                f"{where} is outside the allowed folders",
                help="allowed: " + ", ".join(str(r) for r in self.ingest_roots),
            )
        if not exists:
            raise ToolArgumentError(
                f"{where} does not exist ({path})", help="give a file or folder that exists"
            )
        return path
