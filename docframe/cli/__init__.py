"""The ``docframe`` command: a thin layer over the Python API.

Every command opens the lake through :func:`docframe.open` and prints what the API
returns; errors become one red line naming the input plus a hint, and a non-zero exit
code (:mod:`docframe.cli.app` does that once, for every command).

The commands live by what they do: :mod:`~docframe.cli.ingest` (init, ingest, run),
:mod:`~docframe.cli.reading` (search, sources, tables, describe), :mod:`~docframe.cli.sql`,
:mod:`~docframe.cli.upkeep` (gc, verify, repair, reembed), :mod:`~docframe.cli.indexes` (index
build, check, tune, export) and :mod:`~docframe.cli.checks` (eval, doctor); ``serve`` and
``tools`` come from the MCP server (:mod:`docframe.mcp.cli`). They are registered here,
in the order ``docframe --help`` lists them.
"""

from docframe.cli import checks, indexes, ingest, reading, sql, upkeep
from docframe.cli.app import app, index_app
from docframe.mcp.cli import register as register_agent_commands

for _command in (
    ingest.init,
    ingest.ingest,
    reading.search,
    sql.sql,
    reading.sources,
    reading.tables,
    reading.describe,
    ingest.run,
    upkeep.gc,
    upkeep.verify,
    upkeep.repair,
    upkeep.reembed,
):
    app.command()(_command)
app.command("eval")(checks.eval_)
app.command()(checks.doctor)
register_agent_commands(app)  # serve, tools

index_app.command("build")(indexes.index_build)
index_app.command("check")(indexes.index_check)
index_app.command("tune")(indexes.index_tune)
index_app.command("export")(indexes.index_export)
app.add_typer(index_app, name="index")

__all__ = ["app"]
