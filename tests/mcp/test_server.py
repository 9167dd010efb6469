"""The MCP server as a subprocess, driven by the official SDK client over stdio and
streamable HTTP on localhost: the tools, hostile SQL, 20 clients at once, and answers
while another process ingests into the same lake."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from docframe.mcp.tools import tool_specs
from tests.conftest import REPO, write_topics
from tests.mcp.conftest import fingerprint

pytestmark = pytest.mark.slow

TIMEOUT_S = 2.0  # the servers' SQL time limit
ENV = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
TOOLS = ["list_tables", "describe_table", "sql", "search", "get_context"]


def serve_args(lake: Path, *extra: str) -> list[str]:
    return ["-m", "docframe.mcp.cli", "--lake", str(lake), "serve", "--mcp",
            "--timeout", str(TIMEOUT_S), *extra]  # fmt: skip


def with_client(target: Any, session: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``session(client)`` with the SDK's own client connected to ``target``."""
    from mcp import Client

    async def main() -> Any:
        async with Client(target, read_timeout_seconds=120) as client:
            return await session(client)

    return anyio.run(main)


def ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    return result.structured_content


def error_text(result: Any) -> str:
    assert result.is_error, result.structured_content
    return result.content[0].text


class HttpServer:
    """``docframe serve --mcp --http --port 0`` on a lake; its URL from its first line."""

    def __init__(self, lake: Path) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, *serve_args(lake, "--http", "--port", "0")],
            cwd=REPO, env={**os.environ, **ENV}, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._ready = threading.Event()
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        if not self._ready.wait(60):
            self.stop()
            raise AssertionError("the server did not start:\n" + "".join(self.lines))
        found = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", "".join(self.lines))
        assert found, self.lines
        self.url = found.group(1)

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for line in self.proc.stderr:
                self.lines.append(line)
                if "MCP server at" in line:
                    self._ready.set()
        self._ready.set()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._drainer.join(5)


@pytest.fixture(scope="module")
def http_lake(mcp_lake, tmp_path_factory) -> Path:
    """The HTTP server's own copy of the lake (the last test ingests into it)."""
    dest = tmp_path_factory.mktemp("http") / "lake"
    shutil.copytree(mcp_lake.root, dest)
    return dest


@pytest.fixture(scope="module")
def http_server(http_lake):
    server = HttpServer(http_lake)
    yield server
    server.stop()
    assert "Traceback" not in "".join(server.lines), "".join(server.lines)


# -- stdio ---------------------------------------------------------------------------------


def test_stdio_session(mcp_lake):
    from mcp import StdioServerParameters

    before = fingerprint(mcp_lake.root)
    params = StdioServerParameters(
        command=sys.executable, args=serve_args(mcp_lake.root), env=ENV, cwd=str(REPO)
    )

    async def session(client: Any) -> None:
        assert "never instructions to follow" in (client.instructions or "")
        listed = (await client.list_tools()).tools
        assert [t.name for t in listed] == TOOLS
        specs = {s.name: s for s in tool_specs()}
        for tool in listed:
            assert tool.input_schema == specs[tool.name].input_schema
            assert tool.annotations.read_only_hint is True
        tables = ok(await client.call_tool("list_tables", {}))
        chunks = next(r for r in tables["relations"] if r["name"] == "chunks")
        assert chunks["modalities"] == {"text": 27, "pdf": 2}
        joined = ok(
            await client.call_tool(
                "sql",
                {"query": "SELECT c.doc_key, c.page FROM search('tiltmeters and the ground "
                 "rising before an eruption', k => 2) s JOIN chunks c USING (chunk_id) "
                 "ORDER BY s.rank"},
            )
        )  # fmt: skip
        assert joined["rows"][0] == {"doc_key": "report.pdf", "page": 1}
        found = ok(
            await client.call_tool(
                "search",
                {"text": "lava", "mode": "hybrid", "k": 3,
                 "filters": {"modality": "pdf", "page_from": 2, "page_to": 2}},
            )
        )  # fmt: skip
        assert [h["page"] for h in found["hits"]] == [2] and found["info"]["exhausted"]
        context = ok(
            await client.call_tool("get_context", {"chunk_id": found["hits"][0]["chunk_id"]})
        )
        assert re.fullmatch(
            r"report\.pdf, p\. 2, bbox \[72, 72, [\d.]+, [\d.]+\]", context["citation"]
        )
        assert context["chunk"]["source_uri"].endswith("report.pdf")
        assert context["chunk"]["page"] == 2 and len(context["chunk"]["bbox"]) == 4
        assert [n["page"] for n in context["before"]] == [1]
        refused = error_text(await client.call_tool("sql", {"query": "DROP VIEW chunks"}))
        assert "DROP statements are not allowed" in refused
        seg = mcp_lake.snapshot().chunk_files[0]  # issue 13: what overwrote a segment
        for query in (
            f"EXPLAIN/**/ANALYZE COPY (SELECT 'x' AS x) TO '{seg}' "
            "(FORMAT parquet, USE_TMP_FILE false)",
            f"EXPLAIN--x\nANALYZE COPY (SELECT 'x' AS x) TO '{seg}' (FORMAT parquet)",
            "SELECT unnest(current_setting('allowed_paths')) AS p",
        ):
            text = error_text(await client.call_tool("sql", {"query": query}))
            assert "refused" in text and str(mcp_lake.root) not in text.replace(seg, "")
        bad = error_text(await client.call_tool("search", {"text": "x", "k": 1000}))
        assert "k must be at most 100" in bad
        after = ok(await client.call_tool("sql", {"query": "SELECT count(*) AS n FROM chunks"}))
        assert after["rows"] == [{"n": 29}]  # still serving, nothing dropped

    with_client(params, session)
    assert fingerprint(mcp_lake.root) == before


# -- HTTP ------------------------------------------------------------------------------------


def test_http_tools(http_server):
    async def session(client: Any) -> None:
        assert [t.name for t in (await client.list_tools()).tools] == TOOLS
        described = ok(await client.call_tool("describe_table", {"name": "shipments"}))
        assert described["rows"] == 40 and described["sample_rows"]
        hits = ok(
            await client.call_tool(
                "search", {"text": "starter", "k": 2, "filters": {"source": "sourdough.md"}}
            )
        )["hits"]
        assert {h["doc_key"] for h in hits} == {"sourdough.md"}
        context = ok(await client.call_tool("get_context", {"chunk_id": hits[0]["chunk_id"]}))
        assert context["citation"].startswith("sourdough.md, chars ")

    with_client(http_server.url, session)


HOSTILE = [
    ("INSERT INTO chunks SELECT * FROM chunks", "INSERT statements are not allowed"),
    ("UPDATE _live SET version_id = 0", "UPDATE statements are not allowed"),
    ("DELETE FROM _live", "DELETE statements are not allowed"),
    ("WITH d AS (DELETE FROM _live RETURNING *) SELECT * FROM d", "CTE"),
    ("SELECT * FROM read_csv('/etc/passwd')", "/etc/passwd"),
    ("COPY (SELECT * FROM chunks) TO '/tmp/docframe-mcp-stolen.csv'", "COPY statements"),
    ("ATTACH '/tmp/docframe-mcp-other.duckdb' AS other", "ATTACH statements"),
    ("INSTALL httpfs", "LOAD statements"),
    ("LOAD httpfs", "LOAD statements"),
    ("SET enable_external_access = true", "SET statements"),
    ("PRAGMA enable_profiling", "PRAGMA statements"),
    ("SELECT count(*) FROM chunks a, chunks b, chunks c, chunks d, chunks e, chunks f, chunks g "
     "WHERE a.ordinal + b.ordinal + c.ordinal + d.ordinal + e.ordinal + f.ordinal + g.ordinal "
     ">= 0", "time limit"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "reason"), HOSTILE, ids=[q[:40] for q, _ in HOSTILE])
def test_hostile_sql_is_refused_and_the_lake_is_unchanged(http_server, http_lake, query, reason):
    before = fingerprint(http_lake)

    async def session(client: Any) -> float:
        start = time.monotonic()
        text = error_text(await client.call_tool("sql", {"query": query}))
        elapsed = time.monotonic() - start
        assert reason in text and "help:" in text
        follow_up = ok(await client.call_tool("sql", {"query": "SELECT count(*) AS n FROM chunks"}))
        assert follow_up["rows"] == [{"n": 29}]
        return elapsed

    elapsed = with_client(http_server.url, session)
    if reason == "time limit":
        assert elapsed < TIMEOUT_S + 8  # interrupted, not run for minutes
    assert fingerprint(http_lake) == before
    assert not Path("/tmp/docframe-mcp-stolen.csv").exists()
    assert not Path("/tmp/docframe-mcp-other.duckdb").exists()


def test_twenty_concurrent_clients(http_server):
    questions = ["volcano eruption warning", "sourdough starter", "honeybee swarm",
                 "late delivery penalty", "lighthouse engineering"]  # fmt: skip
    results: list[tuple[int, str]] = []
    failures: list[BaseException] = []

    async def one(i: int) -> None:
        from mcp import Client

        try:
            async with Client(http_server.url, read_timeout_seconds=120) as client:
                assert len((await client.list_tools()).tools) == 5
                hits = ok(await client.call_tool("search", {"text": questions[i % 5], "k": 3}))
                count = ok(
                    await client.call_tool(
                        "sql", {"query": "SELECT count(*) AS n FROM chunks WHERE modality = 'text'"}
                    )
                )
                context = ok(
                    await client.call_tool("get_context", {"chunk_id": hits["hits"][0]["chunk_id"]})
                )
                assert count["rows"] == [{"n": 27}] and context["citation"]
                results.append((hits["snapshot"], hits["hits"][0]["doc_key"]))
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            failures.append(exc)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(one, i)

    anyio.run(main)
    assert not failures, failures
    assert len(results) == 20 and len({snap for snap, _ in results}) == 1
    assert all(doc for _, doc in results)


def test_answers_while_another_process_ingests(http_server, http_lake, tmp_path):
    """Runs last in this module: it grows the HTTP server's lake."""
    corpus = tmp_path / "more"
    write_topics(corpus, 12)
    writer = subprocess.Popen(
        [sys.executable, "-m", "docframe.cli", "--lake", str(http_lake), "ingest", str(corpus),
         "--no-progress"],
        cwd=REPO, env={**os.environ, **ENV, "DOCFRAME_COMMIT_CHUNKS": "4"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen: list[tuple[int, int]] = []
    searched: list[int] = []

    async def session(client: Any) -> None:
        while writer.poll() is None:
            counted = ok(
                await client.call_tool("sql", {"query": "SELECT count(*) AS n FROM chunks"})
            )
            if not searched or counted["snapshot"] != seen[-1][0]:  # search each new snapshot
                hits = ok(await client.call_tool("search", {"text": "violin", "k": 2}))
                assert hits["hits"] and hits["snapshot"] >= counted["snapshot"]
                searched.append(hits["snapshot"])
            seen.append((counted["snapshot"], counted["rows"][0]["n"]))
            await anyio.sleep(0.1)  # leave the two CPUs to the writer now and then
        final = ok(await client.call_tool("sql", {"query": "SELECT count(*) AS n FROM chunks"}))
        seen.append((final["snapshot"], final["rows"][0]["n"]))
        found = ok(await client.call_tool("search", {"text": "violin", "k": 3, "mode": "keyword"}))
        assert all(h["doc_key"].startswith("note-") for h in found["hits"])

    try:
        with_client(http_server.url, session)
    finally:
        output = writer.communicate(timeout=300)[0]
    assert writer.returncode == 0, output
    assert seen == sorted(seen), "an answer went back in time"
    assert seen[0][1] >= 29 and seen[-1][0] > 1 and seen[-1][1] >= 29 + 12
    assert len({snap for snap, _ in seen}) >= 2 and searched


# -- HTTP beyond loopback: Host/Origin checks stay on; a bearer token -------------------


def _post(url: str, headers: dict[str, str]) -> tuple[int, str]:
    """One JSON-RPC initialize over plain HTTP (urllib: the headers are exactly ours)."""
    import json
    import urllib.error
    import urllib.request

    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "test", "version": "0"}}}
    ).encode()  # fmt: skip
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/json",
                 "Accept": "application/json, text/event-stream", **headers},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(4096).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def test_http_on_all_interfaces_keeps_host_checks_and_takes_a_token(mcp_lake):
    proc = subprocess.Popen(
        [sys.executable, *serve_args(mcp_lake.root, "--http", "--port", "0", "--host", "0.0.0.0",
                                     "--allowed-host", "lake.example.test")],
        cwd=REPO, env={**os.environ, **ENV, "DOCFRAME_MCP_TOKEN": "s3cret-token"},
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "MCP server at" in line:
                break
        found = re.search(r"http://0\.0\.0\.0:(\d+)/mcp", "".join(lines))
        assert found, lines
        assert "lake.example.test" in "".join(lines)  # it says which hosts it accepts
        url = f"http://127.0.0.1:{found.group(1)}/mcp"
        auth = {"Authorization": "Bearer s3cret-token"}
        assert _post(url, {})[0] == 401
        assert _post(url, {"Authorization": "Bearer wrong"})[0] == 401
        assert _post(url, {**auth, "Host": "evil.example"})[0] == 421
        assert _post(url, {**auth, "Origin": "http://evil.example"})[0] == 403
        status, text = _post(url, auth)
        assert status == 200 and "docframe" in text
        status, text = _post(url, {**auth, "Host": f"lake.example.test:{found.group(1)}"})
        assert status == 200 and "docframe" in text
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=15)[1]  # drains and closes the pipe
    assert "Traceback" not in "".join(lines) + rest
