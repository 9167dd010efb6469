"""``docframe serve --mcp`` and ``docframe tools``: the agent server's commands.

They are plain typer command functions plus :func:`register`, which the main
``docframe`` app calls to add them (the lake and engine come from its global
``--lake``/``--engine`` options through ``ctx.obj``). Until then, or for
debugging, the module runs on its own::

    python -m docframe.mcp.cli --lake ./lake serve --mcp
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from docframe import config
from docframe.errors import DocframeError

if TYPE_CHECKING:
    from docframe.mcp.sandbox import Limits


class ToolFormat(StrEnum):
    openai = "openai"
    anthropic = "anthropic"
    mcp = "mcp"


def _fail(exc: DocframeError) -> typer.Exit:
    typer.echo(f"error: {exc.message}", err=True)
    if exc.help:
        typer.echo(f"help: {exc.help}", err=True)
    return typer.Exit(2)


def _limits(**overrides: object) -> Limits:
    from docframe.mcp.sandbox import Limits

    try:
        return Limits.from_env(**overrides)
    except ValueError as exc:
        raise DocframeError(str(exc), help="see docframe serve --help for the limits") from None


def serve(
    ctx: typer.Context,
    mcp: Annotated[
        bool, typer.Option("--mcp", help="Serve the Model Context Protocol (required).")
    ] = False,
    http: Annotated[
        bool,
        typer.Option("--http", help="Streamable HTTP at http://HOST:PORT/mcp instead of stdio."),
    ] = False,
    host: Annotated[
        str,
        typer.Option(
            help="HTTP interface. Beyond 127.0.0.1, set a --token: anyone who reaches the "
            "port can otherwise read the lake."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="HTTP port; 0 picks a free one.", min=0, max=65535)
    ] = 8765,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A name clients use to reach the server (Host header), e.g. "
            "lake.example.com (repeatable). Loopback names, the --host address and this "
            "machine's names are always allowed; any other Host or browser Origin is refused "
            "(DNS-rebinding protection).",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar=config.MCP_TOKEN_VAR,
            help="HTTP requests must send 'Authorization: Bearer TOKEN'. Prefer the "
            "environment variable DOCFRAME_MCP_TOKEN (a flag shows in the process list).",
        ),
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(help="Rows per SQL answer (env DOCFRAME_MCP_MAX_ROWS; default 1000).", min=1),
    ] = None,
    max_bytes: Annotated[
        int | None,
        typer.Option(
            help="Bytes of JSON per answer (env DOCFRAME_MCP_MAX_BYTES; default 1000000).", min=1
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds per SQL statement (env DOCFRAME_MCP_TIMEOUT_S; default 10).", min=0.01
        ),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            help="DuckDB memory per statement (env DOCFRAME_MCP_MEMORY_LIMIT; default 1GB)."
        ),
    ] = None,
    allow_ingest: Annotated[
        list[Path] | None,
        typer.Option(
            "--allow-ingest",
            help="Enable an ingest tool reading only inside this folder (repeatable). "
            "Off by default: the server is read-only.",
        ),
    ] = None,
) -> None:
    """Serve the lake to AI agents over MCP: list_tables, describe_table, sql, search, get_context.

    stdio by default (an MCP client starts this command); --http for streamable HTTP
    on localhost. Agent SQL runs read-only in a sandbox (no files, network, extensions
    or settings; workers the kernel forbids to write) with row, byte and time limits.

    Example client configuration:
      {"mcpServers": {"docframe": {"command": "docframe",
        "args": ["--lake", "/data/lake", "serve", "--mcp"]}}}

    On a network: DOCFRAME_MCP_TOKEN=... docframe serve --mcp --http --host 0.0.0.0
    --allowed-host lake.example.com (clients send Authorization: Bearer ...).
    """
    try:
        if not mcp:
            raise DocframeError(
                "docframe serve needs --mcp (the only protocol served so far)",
                help="docframe serve --mcp [--http --port 8765]",
            )
        import docframe
        from docframe.mcp.server import serve as run

        obj = ctx.obj or {}
        limits = _limits(
            max_rows=max_rows, max_bytes=max_bytes, timeout_s=timeout, memory_limit=memory_limit
        )
        lake = docframe.open(obj.get("lake", Path("lake")), create=False, engine=obj.get("engine"))
        roots = [p.expanduser().resolve() for p in (allow_ingest or [])]
        for root in roots:
            if not root.is_dir():
                raise DocframeError(
                    f"--allow-ingest {root}: not a folder", help="name an existing folder"
                )
        if not http and allowed_host:
            raise DocframeError(
                "--allowed-host applies to --http only",
                help="stdio is private to the client that starts the server",
            )
        run(
            lake,
            transport="http" if http else "stdio",
            host=host,
            port=port,
            limits=limits,
            ingest_roots=roots,
            allowed_hosts=allowed_host or (),
            token=token or None,
        )
    except DocframeError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def tools(
    ctx: typer.Context,
    fmt: Annotated[
        ToolFormat, typer.Option("--format", "-f", help="openai, anthropic or mcp (tools/list).")
    ] = ToolFormat.openai,
    with_ingest: Annotated[
        bool, typer.Option("--with-ingest", help="Include the optional ingest tool.")
    ] = False,
) -> None:
    """Print the agent tools as JSON tool schemas, for frameworks that do not speak MCP.

    The schemas are the MCP server's own. Run the calls with
    docframe.mcp.tools.LakeTools(lake).call(name, arguments).
    """
    try:
        from docframe.mcp.tools import export_tools

        specs = export_tools(fmt.value, allow_ingest=with_ingest, limits=_limits())
    except DocframeError as exc:
        raise _fail(exc) from None
    sys.stdout.write(json.dumps(specs, indent=2, ensure_ascii=False) + "\n")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``tools`` to the ``docframe`` app."""
    app.command("serve")(serve)
    app.command("tools")(tools)


def _standalone() -> typer.Typer:
    """The two commands with docframe's global options, for ``python -m docframe.mcp.cli``."""
    app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)

    @app.callback()
    def main(
        ctx: typer.Context,
        lake: Annotated[Path, typer.Option("--lake", envvar=config.LAKE_VAR)] = Path("lake"),
        engine: Annotated[str | None, typer.Option("--engine")] = None,
    ) -> None:
        ctx.obj = {"lake": lake, "engine": engine}

    register(app)
    return app


if __name__ == "__main__":
    _standalone()()
