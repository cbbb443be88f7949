"""End-to-end runs through the command line, the model store, and every bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import CONF, FAST, REPO
from unlearn_bench.experiment.runner import run
from unlearn_bench.metrics.split_metrics import chance_level_warning
from unlearn_bench.utils.errors import UnlearnBenchError


def cli(tmp_path, *overrides: str, run_dir: str = "out") -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "unlearn_bench", f"paths.root_dir={tmp_path}",
         f"hydra.run.dir={tmp_path}/{run_dir}", *FAST, *overrides],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )


def test_cli_class_forgetting_then_cache_hit(tmp_path):
    first = cli(tmp_path, "task=class", run_dir="first")
    assert first.returncode == 0, first.stderr
    assert "is not available" not in first.stderr  # no user config folder: no warning about it
    assert "gap to gold" in first.stdout and "original" in first.stdout
    record = json.loads((tmp_path / "first" / "results.json").read_text())
    assert record["method"] == "ssd" and record["task"] == "class"
    assert record["warnings"] == []
    assert not record["models"]["original"]["cache_hit"] and not record["models"]["gold"]["cache_hit"]
    for role in ("unlearned", "original", "gold"):
        assert set(record["metrics"][role]) >= {"retain_test_acc", "forget_test_acc", "retain_train_acc",
                                                "forget_train_acc", "test_acc", "mia"}
    assert record["data_used"] == ["forget", "train_importance"]
    assert record["timing"]["importance_s"] > 0

    second = cli(tmp_path, "task=class", run_dir="second")
    assert second.returncode == 0, second.stderr
    again = json.loads((tmp_path / "second" / "results.json").read_text())
    assert again["models"]["original"]["cache_hit"] and again["models"]["gold"]["cache_hit"]
    assert again["method_report"]["importance_cache_hit"]
    assert "Trainer.fit" not in second.stdout + second.stderr
    assert again["metrics"]["original"] == record["metrics"]["original"]


def test_cli_random_forgetting(tmp_path):
    result = cli(tmp_path, "task=random", "task.n_forget=50")
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["split"]["forget_train"] == 50 and record["split"]["forget_test"] == 0
    assert record["metrics"]["unlearned"]["forget_test_acc"] is None
    assert record["paper_columns"]["gold"]["Df"] == record["metrics"]["gold"]["forget_train_acc"]


@pytest.fixture(scope="module")
def family_root(tmp_path_factory):
    """One cache for the SSD family's runs: the first trains the models, the others reuse them."""
    return tmp_path_factory.mktemp("ssd_family")


@pytest.mark.parametrize("overrides,name,rule", [
    (["method=assd"], "assd", "assd"),
    (["method=lfssd"], "lfssd", "fixed"),
    (["method=ssd", "method.alpha_rule=mass_share"], "ssd", "mass_share"),
])
def test_cli_ssd_family(family_root, overrides, name, rule):
    run_dir = "_".join(overrides).replace("=", "-").replace(".", "-")
    result = cli(family_root, *overrides, run_dir=run_dir)
    assert result.returncode == 0, result.stderr
    record = json.loads((family_root / run_dir / "results.json").read_text())
    assert record["method"] == name and record["data_used"] == ["forget", "train_importance"]
    report = record["method_report"]
    assert report["alpha_rule"] == rule and report["alpha"] > 0 and report["params_changed"] > 0
    assert record["paper_columns"]["unlearned"]["Df"] < record["paper_columns"]["original"]["Df"]


@pytest.mark.parametrize("overrides,message", [
    (["method.alpha=0"], "method.alpha=0 is invalid: it must be a number > 0"),
    (["method.lambda_=-1"], "method.lambda_=-1 is invalid: it must be a number > 0"),
    (["task.forget=rocket"], "Unknown class .rocket. in task.forget; valid names"),
    (["task=random", "task.n_forget=0"], "task.n_forget=0 is invalid: it must be an integer ≥ 1"),
    (["task=random", "task.n_forget=100000"], "task.n_forget must lie in"),
    (["task=subclass", "task.forget=rocket"], "needs a dataset with superclasses"),
])
def test_bad_input_in_process(make_cfg, overrides, message):
    with pytest.raises(UnlearnBenchError, match=message):
        run(make_cfg(*overrides))


def test_a_method_that_destroys_the_model_is_flagged_in_the_log_and_the_record(make_cfg, caplog):
    # pure gradient ascent at a huge step on the train-mode loop: the network ends up answering one
    # class (the authors' eval-mode loop diverges to NaN there: tests/test_diverged.py)
    record = run(make_cfg("task=class", "method=neggrad_plus", "method.alpha=0.01", "method.lr=10.0",
                          "method.epochs=1", "method.model_mode=train", "method.pull_weight_decay=0",
                          "method.forget_batch_size=128"))
    test_acc = record["metrics"]["unlearned"]["test_acc"]
    assert test_acc <= 12.0
    assert record["warnings"] == [chance_level_warning(test_acc, 10)]
    assert "neggrad_plus: the unlearned model's test accuracy is" in caplog.text


def test_bad_input_exits_with_one_sentence_and_writes_nothing(tmp_path):
    result = cli(tmp_path, "method.alpha=-1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: method.alpha=-1 is invalid")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / ".cache").exists()


@pytest.mark.parametrize("group,value", [("method", "nope"), ("dataset", "nope"), ("model", "nope")])
def test_unknown_group_choice_lists_options(tmp_path, group, value):
    result = cli(tmp_path, f"{group}={value}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {group}={value} is not a choice of {group}: use one of ")
    assert {"method": "ssd", "dataset": "digits", "model": "cnn"}[group] in lines[0]
    assert not (tmp_path / "out").exists()


# the groups users choose from, and those composed for them (hidden from --help)
USER_GROUPS = ("dataset", "model", "task", "method", "trainer", "protocol", "logger", "lenses", "scale", "experiment",
               "hparams_search", "debug", "superclasses")
INTERNAL_GROUPS = ("dataset_model", "model_training", "setting", "training", "paths")


def test_help_lists_every_user_group_with_its_choices_and_no_internal_group(tmp_path):
    (tmp_path / "conf" / "method").mkdir(parents=True)
    (tmp_path / "conf" / "method" / "my_ssd.yaml").write_text("defaults:\n  - ssd\n  - _self_\nalpha: 3.5\n")
    env = {**os.environ, "UNLEARN_BENCH_ROOT": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "unlearn_bench", "--help", "method=scrub"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    listed = dict(re.findall(r"^  (\w+): (.+)$", result.stdout, re.MULTILINE))
    assert set(listed) == set(USER_GROUPS)
    for group in USER_GROUPS:
        choices = sorted(p.stem for p in (CONF / group).glob("*.yaml")) + (["my_ssd"] if group == "method" else [])
        assert re.sub(r" \(now: \w+\)$", "", listed[group]).split(", ") == sorted(choices), group
    assert "ssd" in listed["method"] and listed["method"].endswith("(now: scrub)")
    assert not any(re.search(rf"\b{group}\b", result.stdout) for group in INTERNAL_GROUPS)


def test_the_hidden_groups_still_compose(make_cfg):
    cfg = make_cfg("+setting=cifar100_class", "training.epochs=2", "paths.data_dir=/elsewhere")
    assert (cfg.dataset.name, cfg.task.forget, cfg.training.epochs, cfg.paths.data_dir) == (
        "cifar100", "rocket", 2, "/elsewhere")
