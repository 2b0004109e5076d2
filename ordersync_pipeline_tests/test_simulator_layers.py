"""How the simulator's modules depend on each other: one shared base, each marketplace on top of
it and of nothing else, a world that builds its lifecycle and a lifecycle that does not import
its world; and a command line that imports no simulator until a command starts one."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ordersync_pipeline.simulator as simulator_package
from ordersync_pipeline.cli import SIMULATOR_KINDS
from ordersync_pipeline.simulator import SIMULATORS

ROOT = Path(simulator_package.__file__).parent
PACKAGE = "ordersync_pipeline.simulator"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved, type-only ones included."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # ``from . import x`` imports the module x; ``from .m import name`` the module m
            submodules = {f"{module}.{alias.name}" for alias in node.names} & MODULES
            found.update(submodules or {module})
    return {module for module in found if module.startswith(PACKAGE)}


MODULES = {_module_name(path) for path in ROOT.rglob("*.py")}
GRAPH = {_module_name(path): _imports(path) for path in ROOT.rglob("*.py")}


def _importers_of(prefix: str, among: str) -> dict[str, set[str]]:
    return {
        module: {imported for imported in imports if imported.startswith(prefix)}
        for module, imports in GRAPH.items()
        if module.startswith(among) and any(imported.startswith(prefix) for imported in imports)
    }


def test_the_graph_sees_the_imports_it_judges():
    assert f"{PACKAGE}.base.world" in GRAPH[f"{PACKAGE}.backmarket.world"]
    assert f"{PACKAGE}.backmarket.lifecycle" in GRAPH[f"{PACKAGE}.backmarket.world"]
    assert f"{PACKAGE}.refurbed.api" in GRAPH[f"{PACKAGE}.refurbed.world"]


def test_the_base_imports_no_marketplace():
    assert _importers_of(f"{PACKAGE}.backmarket", among=f"{PACKAGE}.base") == {}
    assert _importers_of(f"{PACKAGE}.refurbed", among=f"{PACKAGE}.base") == {}


def test_no_marketplace_imports_another():
    assert _importers_of(f"{PACKAGE}.refurbed", among=f"{PACKAGE}.backmarket") == {}
    assert _importers_of(f"{PACKAGE}.backmarket", among=f"{PACKAGE}.refurbed") == {}


def test_a_marketplace_world_builds_its_lifecycle_and_the_lifecycle_does_not_import_the_world():
    for kind in ("backmarket", "refurbed"):
        assert f"{PACKAGE}.{kind}.lifecycle" in GRAPH[f"{PACKAGE}.{kind}.world"]
        assert f"{PACKAGE}.{kind}.world" not in GRAPH[f"{PACKAGE}.{kind}.lifecycle"]


def _reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for imported in GRAPH.get(todo.pop(), ()):
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def test_no_simulator_module_imports_itself_back():
    assert [module for module in GRAPH if module in _reachable(module)] == []


def test_the_command_line_imports_no_simulator_until_a_command_needs_one():
    code = "import sys, ordersync_pipeline.cli; print([m for m in sys.modules if m.startswith('" + PACKAGE + "')])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert set(SIMULATOR_KINDS) == set(SIMULATORS)
