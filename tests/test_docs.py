"""The documentation matches the code: every config group and choice, every method, the README's
links and length, the method skeleton (run end to end), and a strict MkDocs build."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAST, REPO

CONF = REPO / "src" / "unlearn_bench" / "conf"
DOCS = REPO / "docs"
README_MAX_LINES = 250


def group_choices() -> dict[str, list[str]]:
    """Each config group of conf/ and its choices (hydra's: its launchers)."""
    groups = {}
    for folder in sorted(p for p in CONF.iterdir() if p.is_dir() and not p.name.startswith("_")):
        if folder.name == "hydra":
            groups["hydra"] = sorted(p.stem for p in (folder / "launcher").glob("*.yaml"))
        else:
            groups[folder.name] = sorted(p.stem for p in folder.glob("*.yaml"))
    return groups


def table_row(page: str, group: str) -> str:
    rows = [line for line in page.splitlines() if re.match(rf"\| `{group}`( |`)", line)]
    assert rows, f"docs/configuration.md has no table row for the config group {group!r}"
    return rows[0]


@pytest.mark.parametrize("group", sorted(group_choices()))
def test_every_config_group_and_choice_is_in_the_configuration_page(group):
    row = table_row((DOCS / "configuration.md").read_text(), group)
    missing = [c for c in group_choices()[group] if f"`{c}`" not in row]
    assert not missing, f"docs/configuration.md's row for {group!r} lacks {missing}"


def test_every_method_is_in_the_methods_page():
    page = (DOCS / "methods.md").read_text()
    missing = [m for m in group_choices()["method"] if m != "custom" and f"| `{m}` |" not in page]
    assert not missing, f"docs/methods.md has no row for {missing}"


def test_the_readme_is_short_and_its_links_resolve():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local, "the README links into docs/"
    broken = [t for t in local if not (REPO / t).exists()]
    assert not broken, f"README links to missing files: {broken}"


def skeleton(name: str) -> str:
    """The code block that follows `<!-- skeleton: name ... -->` in docs/bring-your-own.md."""
    page = (DOCS / "bring-your-own.md").read_text()
    match = re.search(rf"<!-- skeleton: {re.escape(name)}[^>]*-->\n```\w+\n(.*?)```", page, re.S)
    assert match, f"docs/bring-your-own.md lost its {name} skeleton"
    return match.group(1)


def readme_skeleton() -> tuple[str, str]:
    """The README's method class and its YAML (recipe 2)."""
    readme = (REPO / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S)
    yaml = re.search(r"```yaml\n(_target_: my_methods.*?)```", readme, re.S)
    assert code and yaml, "the README lost its add-a-method recipe"
    return code.group(1), yaml.group(1)


SKELETONS = {"docs": lambda: (skeleton("my_methods.py"), skeleton("conf/method/forget_ascent.yaml")),
             "readme": readme_skeleton}


@pytest.mark.parametrize("source", sorted(SKELETONS))
def test_the_documented_method_runs_from_a_folder_of_ones_own(tmp_path, source):
    code, yaml = SKELETONS[source]()
    (tmp_path / "my_methods.py").write_text(code)
    (tmp_path / "conf" / "method").mkdir(parents=True)
    (tmp_path / "conf" / "method" / "forget_ascent.yaml").write_text(yaml)
    env = {**os.environ, "WANDB_MODE": "disabled", "UNLEARN_BENCH_ROOT": str(tmp_path)}
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-m", "unlearn_bench", "method=forget_ascent", "method.lr=0.05",
                             f"hydra.run.dir={tmp_path}/out", *FAST],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["method"] == "forget_ascent" and record["data_read"] == ["forget"]
    assert record["config"]["method"]["lr"] == 0.05
    if source == "docs":
        assert record["method_report"]["steps"] >= 1


def test_the_documented_template_method_runs_from_a_folder_of_ones_own(tmp_path):
    (tmp_path / "template_methods.py").write_text(skeleton("template_methods.py"))
    (tmp_path / "conf" / "method").mkdir(parents=True)
    (tmp_path / "conf" / "method" / "forget_ascent_t.yaml").write_text(skeleton("conf/method/forget_ascent_t.yaml"))
    env = {**os.environ, "WANDB_MODE": "disabled", "UNLEARN_BENCH_ROOT": str(tmp_path)}
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-m", "unlearn_bench", "method=forget_ascent_t",
                             "method.optimizer.lr=0.05", f"hydra.run.dir={tmp_path}/out", *FAST],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["method"] == "forget_ascent_t" and record["data_read"] == ["forget"]
    report = record["method_report"]
    assert report["optimizer"] == {"name": "SGD", "lr": 0.05} and len(report["epoch_losses"]["ascent"]) == 1


def test_the_site_builds_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs, "mkdocs is missing: install the docs extra (pip install -e '.[dev,docs]')"
    result = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=REPO,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").exists()
