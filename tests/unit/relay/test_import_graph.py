"""No import circle among relay's packages: a module-level import graph, read from the
source (nothing is imported), must have no cycle.

An edge A -> B is an import A runs when it is imported: module level, including the
bodies of module-level `if`, `try`, `with` and class statements. Imports inside functions
(run later, on call) and under `if TYPE_CHECKING:` (never run) are not edges. `from p
import x` points at the module `p.x` when there is one, else at `p`. A package's
`__init__` is not implied by importing one of its modules: Python imports the parent
first, but a parent mid-import is harmless to its children.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

PACKAGES = ("relay", "sync_worker", "notifications")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level_imports(body: list[ast.stmt]):
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody,
                          *(h.body for h in node.handlers)):
                yield from _module_level_imports(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            yield from _module_level_imports(node.body)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
             known: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[:len(package) - (node.level - 1)]
            base = ".".join([*package, *([base] if base else [])])
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                 for alias in node.names]
    targets = set()
    for name in names:
        while name and name not in known:   # `import a.b.c` of a non-module attribute
            name = name.rpartition(".")[0]
        if name:
            targets.add(name)
    return targets


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    graph = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[module] = {t for node in _module_level_imports(tree.body)
                         for t in _targets(node, module, is_package, known)} - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one, as a closed path
    (first module repeated last), sorted so the message is stable."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:   # Tarjan; the graph is a few hundred modules deep
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_path_within(graph, component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _path_within(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first)."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def _shown(found: list[list[str]]) -> str:
    return "\n".join(" -> ".join(cycle) for cycle in found)


def test_no_module_imports_itself_back_around():
    # given the module-level imports of relay/, sync_worker/ and notifications/
    graph = import_graph()
    # then no chain of them leads back to where it started
    found = cycles(graph)
    assert not found, f"import cycles:\n{_shown(found)}"


def test_the_graph_sees_a_cycle_and_names_it():
    # given a made-up graph with a circle a -> b -> c -> a beside a clean branch
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set()}
    # then the circle is found, and named from its first module
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_and_type_checking_imports_are_not_edges(tmp_path):
    # given a module importing one neighbour at module level, one inside a function and
    # one under TYPE_CHECKING
    source = ("from typing import TYPE_CHECKING\nimport relay.db\n"
              "if TYPE_CHECKING:\n    import relay.settings\n"
              "def f():\n    import relay.logs\n")
    tree = ast.parse(source)
    known = {"relay.db": tmp_path, "relay.settings": tmp_path, "relay.logs": tmp_path}
    # then only the module-level import counts
    targets = {t for node in _module_level_imports(tree.body)
               for t in _targets(node, "relay.x", False, known)}
    assert targets == {"relay.db"}
