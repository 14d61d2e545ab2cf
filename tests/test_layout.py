"""The shape of the code: no import cycles, project imports at the top, sync free of the app."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("imaginecole", "sync")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


MODULES = project_modules()


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(node: ast.Import | ast.ImportFrom, importer: str) -> Iterator[str]:
    """Yield the modules an import statement loads (``from a import b`` loads ``a.b`` if it is one)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = importer.split(".")
        if MODULES[importer].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    yield base
    for alias in node.names:
        yield f"{base}.{alias.name}"


def top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Yield the imports run when the module loads (those under ``if TYPE_CHECKING`` are not)."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and not is_type_checking(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = {
            target
            for node in top_level_imports(tree)
            for target in imported_names(node, name)
            if target in MODULES and target != name
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_another_that_imports_it_back():
    # A package imports its own submodules from __init__ to offer them (``sync.bundle``), and
    # those submodules import their siblings, never the package: that is not a cycle.
    graph = import_graph()
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def nested_project_imports(path: Path) -> list[str]:
    """Return ``line: module`` for each import of project code made inside a function or class."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in top_level_imports(tree)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and is_type_checking(node):
            top.update(id(child) for child in ast.walk(node))
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top:
            for target in imported_names(node, module_name(path)):
                if target.split(".")[0] in PACKAGES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {target}")
                    break
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_project_code_is_imported_at_the_top_of_a_module(module: str):
    # An import tucked inside a function hides a cycle instead of removing it.
    assert nested_project_imports(MODULES[module]) == []


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.startswith("sync")))
def test_sync_never_imports_the_app_or_flask(module: str):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    imported = {
        target.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for target in imported_names(node, module)
    }
    assert not imported & {"flask", "flask_sqlalchemy", "flask_babel", "imaginecole"}


def test_only_the_app_factory_imports_a_domains_views():
    # Pages depend on operations, never the other way, and one domain's pages never reach
    # into another's: what two pages share belongs below both.
    graph = import_graph()
    reaching_views = sorted(
        f"{importer} -> {target}"
        for importer, targets in graph.items()
        for target in targets
        if target.endswith(".views") and importer != "imaginecole.app"
    )
    assert reaching_views == []
