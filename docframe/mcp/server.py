"""The MCP server: the agent tools of ``docframe.mcp.tools`` over stdio or streamable HTTP.

Built on the official ``mcp`` SDK's low-level ``Server`` rather than its
decorator API, so the JSON schemas clients list are exactly the ones
``docframe tools --format ...`` exports (one definition, ``tool_specs``).

Each tool call runs in a worker thread (DuckDB and the embedding model block),
from a pool of its own so a burst of calls cannot starve the transport's own
threads; each call pins the newest committed snapshot, so the server keeps
answering while another process ingests into the same lake. A failing call comes
back as a tool result with ``isError`` and the reason, and the server goes on.

stdio is the default transport (the client starts ``docframe serve --mcp`` itself);
``--http`` serves streamable HTTP on 127.0.0.1 by default. Whatever the interface,
the SDK's DNS-rebinding protection stays on: a request whose ``Host`` (or browser
``Origin``) is not one of the allowed names is refused (loopback names, the bound
address, this machine's names, and ``--allowed-host`` ones). ``--token`` (or
``DOCFRAME_MCP_TOKEN``) makes every HTTP request carry ``Authorization: Bearer
TOKEN``, compared in constant time; without one, anyone who can reach the port can
read the lake, and the server says so when it binds beyond loopback.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe.errors import DocframeError
from docframe.mcp.sandbox import Limits
from docframe.mcp.tools import CONTENT_NOTICE, LakeTools

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server

    from docframe.api import Lake

log = logging.getLogger("docframe.mcp")

INSTRUCTIONS = f"""\
docframe lake: documents (PDF, text, HTML, Markdown, audio, video) split into chunks with
exact provenance, plus structured tables, all read-only.
Start with list_tables. Use search for questions about document content (hybrid by
default), get_context to read around a hit and to get its citation, describe_table and
sql for structured questions (search also runs inside SQL as search(), keyword_search()
and hybrid_search() table functions that join to chunks on chunk_id).
Cite sources with the citation strings the tools return.
{CONTENT_NOTICE}"""

WORKER_THREADS = 16  # tool calls running at once; more wait their turn


def build_server(tools: LakeTools) -> Server:
    """An MCP ``Server`` whose tools are ``tools`` (listed from ``tools.specs``)."""
    import anyio
    from mcp import types
    from mcp.server.lowlevel import Server

    import docframe

    listed = [
        types.Tool(
            name=spec.name,
            title=spec.title,
            description=spec.description,
            input_schema=spec.input_schema,
            annotations=types.ToolAnnotations(
                title=spec.title,
                read_only_hint=spec.read_only,
                destructive_hint=False,
                idempotent_hint=spec.read_only,
                open_world_hint=False,
            ),
        )
        for spec in tools.specs.values()
    ]
    schemas = {spec.name: spec.input_schema for spec in tools.specs.values()}
    limiter = anyio.CapacityLimiter(WORKER_THREADS)

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        name, arguments = params.name, params.arguments or {}
        try:
            result = await anyio.to_thread.run_sync(tools.call, name, arguments, limiter=limiter)
        except DocframeError as exc:
            log.info("tool %s refused: %s", name, exc.message)
            return _error(exc.message, exc.help)
        except Exception as exc:  # noqa: BLE001 - one bad call must not stop the server
            log.exception("tool %s failed", name)
            return _error(f"internal error in {name}: {type(exc).__name__}: {exc}", None)
        text = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], structured_content=result
        )

    return Server(
        "docframe",
        version=docframe.__version__,
        title="docframe lake",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        get_tool_input_schema=schemas.get,
    )


def _error(message: str, help: str | None) -> Any:
    from mcp import types

    text = f"error: {message}" + (f"\nhelp: {help}" if help else "")
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


async def run_stdio(server: Server) -> None:
    """Serve one client over this process's stdin/stdout until it closes them."""
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def allowed_host_names(host: str, extra: Sequence[str] = ()) -> list[str]:
    """The names a request's ``Host`` header may carry: loopback, the bound address
    (for a wildcard bind, this machine's names), and ``extra``."""
    import socket

    names = ["127.0.0.1", "localhost", "[::1]"]
    if host in ("0.0.0.0", "::", ""):
        names += [socket.gethostname(), socket.getfqdn()]
    elif host not in LOOPBACK:
        names.append(f"[{host}]" if ":" in host else host)
    names += list(extra)
    return list(dict.fromkeys(n for n in names if n))


def _security(names: Sequence[str]) -> Any:
    from mcp.server.transport_security import TransportSecuritySettings

    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[form for n in names for form in (n, f"{n}:*")],
        allowed_origins=[f"{scheme}://{n}{port}" for n in names
                         for scheme in ("http", "https") for port in ("", ":*")],
    )  # fmt: skip


class BearerToken:
    """ASGI middleware: HTTP requests must carry ``Authorization: Bearer <token>``.

    A static shared secret, compared in constant time: enough to keep a lake on a
    shared network from being read by whoever finds the port (OAuth is the SDK's
    ``auth=`` settings, for deployments that need per-user identity)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import hmac

        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b"missing or wrong bearer token"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Bearer realm="docframe"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


async def run_http(
    server: Server,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    announce: Callable[[str], None] | None = None,
    allowed_hosts: Sequence[str] = (),
    token: str | None = None,
) -> None:
    """Serve streamable HTTP at ``http://host:port/mcp`` until interrupted. ``port=0``
    picks a free port; ``announce`` receives the URL once the socket listens. Requests
    must name an allowed host (:func:`allowed_host_names`) and, with ``token``, carry
    it as a bearer token."""
    import anyio
    import uvicorn

    security = _security(allowed_host_names(host, allowed_hosts))
    app: Any = server.streamable_http_app(host=host, transport_security=security)
    if token:
        app = BearerToken(app, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    web = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(web.serve)
        while not web.started:
            if web.should_exit:
                return
            await anyio.sleep(0.02)
        bound = web.servers[0].sockets[0].getsockname()[1] if web.servers else port
        shown = f"[{host}]" if ":" in host else host
        if announce is not None:
            announce(f"http://{shown}:{bound}/mcp")


def serve(
    lake: Lake,
    *,
    transport: str = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    limits: Limits | None = None,
    ingest_roots: Sequence[str | Path] = (),
    warm: bool = True,
    allowed_hosts: Sequence[str] = (),
    token: str | None = None,
) -> None:
    """Serve ``lake`` to MCP clients until the client (stdio) or a signal (HTTP) ends it.

    Read-only unless ``ingest_roots`` names folders an ``ingest`` tool may read from.
    ``warm`` loads the embedding model in the background at start, so the first
    search does not pay for it. HTTP only: ``allowed_hosts`` adds names a request's
    Host header may carry; ``token`` requires ``Authorization: Bearer <token>``.
    """
    import anyio

    if transport not in ("stdio", "http"):
        raise DocframeError(f"unknown transport {transport!r}", help="use stdio or http")
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its fallback warnings on agent SQL
    tools = LakeTools(lake, limits=limits, ingest_roots=ingest_roots)
    server = build_server(tools)
    snapshot = lake.snapshot().snapshot_id
    if warm:
        threading.Thread(target=_warm, args=(tools,), name="docframe-warm", daemon=True).start()
    try:
        if transport == "stdio":
            _quietly(anyio.run, run_stdio, server)
        else:
            if host not in LOOPBACK:
                names = ", ".join(allowed_host_names(host, allowed_hosts))
                _say(f"serving on {host}: requests must name one of these hosts: {names} "
                     "(add more with --allowed-host)")  # fmt: skip
                if not token:
                    _say(
                        "warning: no --token: anyone who can reach this port can read the "
                        "lake; set DOCFRAME_MCP_TOKEN (or --token) to require a bearer token"
                    )

            def announce(url: str) -> None:
                _say(f"docframe MCP server at {url} (lake {lake.root}, snapshot {snapshot})")

            # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for
            # the previous handler: a no-op here, so the ``finally`` below still runs
            previous = signal.signal(signal.SIGTERM, _ignore_signal)
            try:
                _quietly(
                    anyio.run,
                    lambda: run_http(
                        server, host, port, announce=announce,
                        allowed_hosts=allowed_hosts, token=token,
                    ),
                )  # fmt: skip
            finally:
                signal.signal(signal.SIGTERM, previous)
    finally:
        tools.close()


def _quietly(func: Callable[..., Any], *args: Any) -> None:
    """Run ``func``; an interrupt or SIGTERM ends it without a traceback (they arrive
    wrapped in the task group's exception group)."""
    try:
        func(*args)
    except* (SystemExit, KeyboardInterrupt):
        pass


def _ignore_signal(signum: int, frame: Any) -> None:
    pass


def _warm(tools: LakeTools) -> None:
    """Start a SQL worker and load the embedding model before the first call needs them."""
    try:
        tools.warm()
    except Exception as exc:  # noqa: BLE001 - the first real call reports it properly
        log.warning("could not warm up: %s", exc)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
