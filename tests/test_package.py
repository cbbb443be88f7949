"""A plain (non-editable) install into a fresh venv runs from any directory: configs ship inside the
package, outputs go under the root, the console script completes config groups."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import FAST, REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """The project built as a wheel and installed, not editable, into a new venv. The dependencies
    (torch, Hydra, ...) are this environment's, reached through a .pth line placed after the new
    venv's own site-packages, so the installed copy of unlearn_bench is the one that runs."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"  # a copy, so that building leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(root / "wheel"), str(source)], check=True, capture_output=True, timeout=600)
    wheel = next((root / "wheel").glob("unlearn_bench-*.whl"))
    fresh = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True, timeout=120)
    python = fresh / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True, capture_output=True, timeout=600, env=env_without_sources())
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True, env=env_without_sources()).stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return fresh


def env_without_sources() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "UNLEARN_BENCH_ROOT")}
    return {**env, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def test_the_installed_package_is_the_wheel_with_every_config(venv, tmp_path):
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import unlearn_bench; print(unlearn_bench.__file__)"],
                         cwd=tmp_path, env=env_without_sources(), check=True, capture_output=True, text=True)
    package = Path(out.stdout.strip()).parent
    assert venv in package.parents
    shipped = {p.relative_to(package / "conf") for p in (package / "conf").rglob("*.yaml")}
    source = {p.relative_to(REPO / "src" / "unlearn_bench" / "conf")
              for p in (REPO / "src" / "unlearn_bench" / "conf").rglob("*.yaml")}
    assert source and shipped == source


def test_the_wheel_ships_the_search_sweeper_as_a_hydra_plugin(venv, tmp_path):
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import hydra_plugins.unlearn_bench_search.optuna_search as m; print(m.__file__)"],
                         cwd=tmp_path, env=env_without_sources(), check=True, capture_output=True, text=True)
    assert venv in Path(out.stdout.strip()).parents


def test_console_script_runs_from_another_directory_with_outputs_under_the_root(venv, tmp_path):
    work, root = tmp_path / "cwd", tmp_path / "root"
    work.mkdir()
    result = subprocess.run([str(venv / "bin" / "unlearn-bench"), *FAST, "method=baseline"], cwd=work,
                            env={**env_without_sources(), "UNLEARN_BENCH_ROOT": str(root)},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    [results] = list((root / "outputs").rglob("results.json"))
    assert json.loads(results.read_text())["method"] == "baseline"
    assert (root / ".cache" / "unlearn_bench").is_dir()
    assert list(work.iterdir()) == []  # nothing lands in the working directory


def test_a_config_of_your_own_under_the_root_is_found(venv, tmp_path):
    root = tmp_path / "root"
    (root / "conf" / "method").mkdir(parents=True)
    (root / "conf" / "method" / "my_ssd.yaml").write_text("defaults:\n  - ssd\n  - _self_\nalpha: 3.5\n")
    result = subprocess.run([str(venv / "bin" / "unlearn-bench"), "method=my_ssd", "--cfg", "job",
                             "--package", "method"], cwd=tmp_path,
                            env={**env_without_sources(), "UNLEARN_BENCH_ROOT": str(root)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "alpha: 3.5" in result.stdout


def test_the_evaluate_script_composes_the_same_config(venv, tmp_path):
    result = subprocess.run([str(venv / "bin" / "unlearn-bench-evaluate"), "model_file=model.safetensors", "--cfg",
                             "job", "--package", "_global_"], cwd=tmp_path, env=env_without_sources(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "model_file: model.safetensors" in result.stdout


@pytest.mark.parametrize("script, says", [("unlearn-bench-report", "usage: python -m unlearn_bench.report"),
                                          ("unlearn-bench-bench", "ssd_rule_map")])
def test_the_other_console_scripts_are_installed_and_answer_help(venv, tmp_path, script, says):
    result = subprocess.run([str(venv / "bin" / script), "--help"], cwd=tmp_path, env=env_without_sources(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert says in result.stdout


def test_tab_completion_offers_config_groups(venv, tmp_path):
    line = "unlearn-bench meth"
    result = subprocess.run([str(venv / "bin" / "unlearn-bench"), "-sc", "query=bash"], cwd=tmp_path,
                            env={**env_without_sources(), "COMP_LINE": line, "COMP_POINT": str(len(line))},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "method=" in result.stdout.split()
