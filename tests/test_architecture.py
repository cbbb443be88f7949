"""The package's layout: subpackages that show the architecture, entry points at the top, no import
cycle (lazy imports inside functions count too), no module name used for two things."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "unlearn_bench"
# the top level holds the package's entry points only: python -m unlearn_bench, python -m unlearn_bench.evaluate
TOP_LEVEL = {"__init__", "__main__", "evaluate", "version"}
# names that mean the same in each package: its base classes, an on-disk store of computed results
SHARED_NAMES = {"__init__", "__main__", "base", "store"}


def modules(root: Path = SRC) -> dict[str, Path]:
    found = {}
    for path in (root / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph(found: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the package's modules it imports anywhere in its body (`from pkg import sub` names sub)."""

    def owner(name: str) -> str | None:
        while name and name not in found:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in found.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {owner(alias.name) for alias in node.names if alias.name.startswith(PACKAGE)}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(PACKAGE):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in found else owner(node.module))
        graph[name] = targets - {None, name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (each holds at least one cycle)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_sees_a_cycle_hidden_in_a_function(tmp_path):
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from unlearn_bench.b import g\n")
    (package / "b.py").write_text("def g():\n    from unlearn_bench import a\n")
    (package / "c.py").write_text("import unlearn_bench.a\n")
    found = modules(tmp_path)
    assert import_graph(found)["unlearn_bench.b"] == {"unlearn_bench.a"}
    assert cycles(import_graph(found)) == [["unlearn_bench.a", "unlearn_bench.b"]]


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph(modules())) == []


def test_the_top_level_holds_only_entry_points():
    top = {path.stem for path in (SRC / PACKAGE).glob("*.py")}
    assert top == TOP_LEVEL


@pytest.mark.parametrize("name", ["artifacts", "evaluate", "sensitivity", "pipeline"])
def test_a_module_name_means_one_thing(name):
    places = [module for module in modules() if module.rpartition(".")[2] == name]
    assert len(places) <= 1, places


def test_no_module_name_is_used_in_two_packages():
    names = Counter(module.rpartition(".")[2] for module, path in modules().items() if path.stem != "__init__")
    assert {name for name, count in names.items() if count > 1} <= SHARED_NAMES


def test_the_public_method_api_is_exported_from_methods():
    from unlearn_bench.methods import UnlearnContext, UnlearningMethod
    from unlearn_bench.methods.base import UnlearnContext as context
    from unlearn_bench.methods.base import UnlearningMethod as method

    assert (UnlearningMethod, UnlearnContext) == (method, context)
