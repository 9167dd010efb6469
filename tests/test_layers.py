"""The house stays straight: each module imports only its own layer or lower ones, and no
modules import each other in a cycle.

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``
(an import placed in a function to dodge a cycle is still a dependency). The layers,
lowest first, are README's Layout rule; there is no list of exceptions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "docframe"

# lowest first; a module may import from its own layer and the ones before it
LAYERS = (
    {"errors", "config", "backend", "isolation", "landlock"},
    {"lake"},
    {"connectors"},
    {"index"},
    {"pipelines", "query"},
    {"api", "__init__"},
    {"shell", "cli", "mcp", "testing", "doctor"},
)
LEVEL = {part: level for level, parts in enumerate(LAYERS) for part in parts}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
# C extensions built at install (``connectors/pdf/_stext.c``): leaves, they import nothing
EXTENSIONS = {_module_name(p) for p in PACKAGE.rglob("*.c")}


def imports(module: str) -> list[tuple[str, int]]:
    """(imported docframe module, line) for every import in ``module``, wherever it sits."""
    path = MODULES[module]
    return imports_in(path.read_text(), module, package=path.name == "__init__.py")


def imports_in(source: str, module: str, *, package: bool = False) -> list[tuple[str, int]]:
    """The docframe imports of ``source``, the text of ``module`` (a package's
    ``__init__`` when ``package``)."""
    anchor_package = module if package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = anchor_package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            # ``from docframe.lake import catalog``: the submodule, if it is one
            known = MODULES.keys() | EXTENSIONS
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                     for a in node.names]  # fmt: skip
        for name in names:
            if name in EXTENSIONS or not (name == "docframe" or name.startswith("docframe.")):
                continue
            assert name in MODULES, f"{module}:{node.lineno} imports unknown {name}"
            if name != module:
                found.append((name, node.lineno))
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    return LEVEL["__init__" if len(parts) == 1 else parts[1]]


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in MODULES if m != "docframe" and m.split(".")[1] not in LEVEL)
    assert not unplaced, f"add these to a layer (README's Layout and LAYERS here): {unplaced}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_from_a_higher_layer(module):
    upward = [
        f"{module}:{line} imports {target} (layer {layer(target)} > {layer(module)})"
        for target, line in imports(module)
        if layer(target) > layer(module)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycles():
    """Tarjan's strongly connected components over every import: a cycle is a set of
    modules that each need another to exist, which is one module in disguise."""
    graph = {m: sorted({t for t, _ in imports(m)}) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_check_sees_hidden_and_upward_imports():
    """The check itself can fail: an import from a higher layer, placed in a function or
    under TYPE_CHECKING, is found, and so is one of a module that does not exist."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from docframe.query.result import Result\n"
        "def f():\n    from docframe.api import Lake\n    from docframe.lake import catalog\n"
    )
    found = dict(imports_in(source, "docframe.lake.probe"))
    assert found == {"docframe.query.result": 3, "docframe.api": 5, "docframe.lake.catalog": 6}
    assert [t for t in found if layer(t) > layer("docframe.lake.probe")] == [
        "docframe.query.result",
        "docframe.api",
    ]
    with pytest.raises(AssertionError, match="unknown docframe.nowhere"):
        imports_in("import docframe.nowhere", "docframe.lake.probe")
