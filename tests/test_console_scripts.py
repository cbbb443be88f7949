"""The console scripts of pyproject.toml: each names a function that imports and takes no argument,
every user-facing `python -m unlearn_bench.X` has one, and unlearn-bench-bench reaches every benchmark."""

from __future__ import annotations

import inspect
import re
import sys
from importlib import import_module, metadata

import pytest

from conftest import REPO
from unlearn_bench.bench import __main__ as bench_main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

SOURCE = REPO / "src"
# modules with a `__main__` block that are not user commands
NOT_COMMANDS = {
    # prints the generated provenance table of docs/methods.md, for whoever edits the docs
    "unlearn_bench.methods.provenance",
}


def console_scripts() -> dict[str, str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def runnable_modules() -> set[str]:
    """Every module of the package that does something under `python -m`."""
    found = set()
    for path in (SOURCE / "unlearn_bench").rglob("*.py"):
        if re.search(r"^if __name__ == .__main__.:", path.read_text(), re.MULTILINE):
            module = ".".join(path.relative_to(SOURCE).with_suffix("").parts)
            found.add(module.removesuffix(".__main__"))
    return found


def _target(spec: str):
    module, _, name = spec.partition(":")
    return module, getattr(import_module(module), name)


@pytest.mark.parametrize("name", sorted(console_scripts()))
def test_each_console_script_is_a_function_called_without_arguments(name):
    _, entry = _target(console_scripts()[name])
    assert inspect.isfunction(entry)
    assert all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in inspect.signature(entry).parameters.values())


def test_every_user_facing_module_has_a_console_script():
    scripts = {_target(spec)[0].removesuffix(".__main__") for spec in console_scripts().values()}
    benches = {f"unlearn_bench.bench.{module}" for module, _ in bench_main.BENCHES.values()}
    modules = runnable_modules()
    assert {"unlearn_bench", "unlearn_bench.evaluate", "unlearn_bench.report", "unlearn_bench.bench"} <= modules
    assert modules - scripts - benches - NOT_COMMANDS == set()
    assert NOT_COMMANDS <= modules  # the list names no module that is gone


def test_the_installed_scripts_are_those_of_pyproject():
    try:
        installed = {e.name: e.value for e in metadata.distribution("unlearn-bench").entry_points
                     if e.group == "console_scripts"}
    except metadata.PackageNotFoundError:
        pytest.skip("unlearn-bench is not installed (pip install -e .)")
    assert installed == console_scripts()


def test_the_bench_script_lists_every_benchmark(capsys):
    assert bench_main.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in bench_main.BENCHES)
    for module, _ in bench_main.BENCHES.values():
        assert callable(import_module(f"unlearn_bench.bench.{module}").main)


@pytest.mark.parametrize("argv, module, rest", [
    (["data", "--repeats", "1"], "unlearn_bench.bench.data", ["--repeats", "1"]),
    (["--device", "cpu"], "unlearn_bench.bench.importance_bench", ["--device", "cpu"]),
    ([], "unlearn_bench.bench.importance_bench", []),
])
def test_the_bench_script_runs_the_named_benchmark_or_the_importance_one(monkeypatch, argv, module, rest):
    calls = []

    class Bench:
        @staticmethod
        def main(args):
            calls.append(args)
            return {"a": "result"}  # the benchmarks return their results: the script's exit code stays 0

    monkeypatch.setattr(bench_main, "import_module", lambda name: calls.append(name) or Bench)
    assert bench_main.main(argv) == 0
    assert calls == [module, rest]
