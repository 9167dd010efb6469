"""The SQL shell (``docframe sql`` on a terminal) and how SQL results are printed.

One module per concern:

- :mod:`~docframe.shell.statements`: where a statement ends (``;`` outside strings,
  comments and dollar quotes), for the shell and for ``docframe sql``'s scripts;
- :mod:`~docframe.shell.output` and :mod:`~docframe.shell.table`: a result as a
  width-aware table, CSV, JSON, JSON lines or Parquet, the same in both;
- :mod:`~docframe.shell.catalog`: listing and describing relations (``.tables``,
  ``.schema``; ``docframe tables``, ``docframe describe``);
- :mod:`~docframe.shell.session`: the shell's logic without a terminal (statements,
  dot commands), with :mod:`~docframe.shell.completion` for Tab;
- :mod:`~docframe.shell.terminal`: the REPL: readline editing, history, completion;
- :mod:`~docframe.shell.messages`: errors and warnings as one line plus ``help:``.

How values become JSON or text is the query layer's (:mod:`docframe.query.values`).
"""

from docframe.query.values import json_value, text_value
from docframe.shell.catalog import (
    Description,
    describe,
    list_relations,
    relation_names,
    resolve_name,
)
from docframe.shell.completion import DOT_COMMANDS, SEARCH_FUNCTIONS
from docframe.shell.output import FORMATS, SHELL_FORMATS, write_parquet, write_result, write_rows
from docframe.shell.session import HELP, Shell
from docframe.shell.statements import is_blank, is_explain, split_statements
from docframe.shell.table import MAX_COLUMN_WIDTH
from docframe.shell.terminal import history_path, run_interactive

__all__ = [
    "DOT_COMMANDS",
    "FORMATS",
    "HELP",
    "MAX_COLUMN_WIDTH",
    "SEARCH_FUNCTIONS",
    "SHELL_FORMATS",
    "Description",
    "Shell",
    "describe",
    "history_path",
    "is_blank",
    "is_explain",
    "json_value",
    "list_relations",
    "relation_names",
    "resolve_name",
    "run_interactive",
    "split_statements",
    "text_value",
    "write_parquet",
    "write_result",
    "write_rows",
]
