"""The layers of mailroom/ (mailroom/__init__.py draws them): no import cycles, and the
rules import nothing from the shell."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "mailroom"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module's imports of other mailroom modules, at any depth (a lazy import counts)."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mailroom"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("mailroom"))
        graph[name] = {d for d in deps if d in modules and d not in (name, "mailroom")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_mailroom_imports_itself_in_a_circle():
    assert cycles(import_graph()) == []


# What the pure rules may use: plain data, the errors, the settings table (choices and
# defaults), and `printable` (mailroom.logs, no I/O on import) to quote a server.
RULES_MAY_IMPORT = {"mailroom.model", "mailroom.errors", "mailroom.settings.fields", "mailroom.logs"}


def test_the_rules_import_nothing_from_the_shell():
    graph = import_graph()
    rules = [name for name in graph if name.startswith("mailroom.rules")]
    assert "mailroom.rules.diagnose" in rules and "mailroom.rules.cutoff" in rules
    outside = {name: sorted(d for d in graph[name] if not d.startswith("mailroom.rules") and d not in RULES_MAY_IMPORT)
               for name in rules}
    assert {name: deps for name, deps in outside.items() if deps} == {}
