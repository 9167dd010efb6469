"""The agent retrieval tool: an MCP server over the lake, sandboxed and citation-ready.

    docframe serve --mcp                    # stdio, for an MCP client to launch
    docframe serve --mcp --http --port 8765 # streamable HTTP on localhost
    docframe tools --format openai          # the same tools as plain JSON schemas

``tools`` holds the tools as plain Python (usable without MCP), with their parts
beside it: ``schemas`` (what a model sees), ``arguments`` (checked against the
schemas), ``catalog``, ``filters`` and ``provenance``. ``sandbox`` is the read-only,
limited SQL runner, ``server`` the MCP transports, ``cli`` the commands.
Importing this package loads neither the MCP SDK nor DuckDB.
"""

from __future__ import annotations

from docframe.mcp.sandbox import Limits, Sandbox, SandboxViolation
from docframe.mcp.tools import LakeTools, citation, export_tools, tool_specs

__all__ = [
    "LakeTools",
    "Limits",
    "Sandbox",
    "SandboxViolation",
    "citation",
    "export_tools",
    "tool_specs",
]
