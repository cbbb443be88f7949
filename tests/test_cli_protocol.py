"""`python -m unlearn_bench protocol=official` runs every method on every task (tiny data, smoke scale)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO
from fixture_data import write_cifar100

METHODS = ("baseline", "retrain", "finetune", "bad_teacher", "amnesiac", "fisher", "ssd", "unsir")


def sweep(tmp_path, name: str, methods: tuple[str, ...], *overrides: str) -> list[dict]:
    out = tmp_path / name
    env = {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "unlearn_bench", "-m", "protocol=official", "scale=smoke", "trainer.accelerator=cpu",
         f"paths.root_dir={tmp_path}", f"hydra.sweep.dir={out}", f"method={','.join(methods)}", *overrides],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sorted(out.glob("*/results.json"))]
    assert sorted(r["method"] for r in records) == sorted(methods)
    return records


def check_official(records: list[dict], task: str) -> None:
    for record in records:
        assert record["task"] == task and record["protocol"]["name"] == "official"
        assert set(record["data_read"]) <= set(record["data_used"]), record["method"]
        assert record["config"]["protocol"]["mia_C"] == 2.0
        report = record["method_report"]
        if record["method"] == "ssd":
            assert report["importance_train_order"] == "request" and not report["importance_stored"]
            assert record["config"]["method"]["batch_size"] == (128 if task == "random" else 64)
        if record["method"] == "finetune":
            assert report["batch_size"] == (128 if task == "random" else 64)
        if record["method"] == "bad_teacher":
            assert report["kl_reduction"] == "mean"
        if record["method"] == "unsir":
            assert report["mode"] == "official"


@pytest.mark.slow
def test_official_protocol_runs_every_method_on_every_task(tmp_path):
    check_official(sweep(tmp_path, "class", METHODS, "task=class"), "class")
    random_methods = tuple(m for m in METHODS if m != "unsir")  # UNSIR needs a forget class
    check_official(sweep(tmp_path, "random", random_methods, "task=random", "task.n_forget=20"), "random")
    write_cifar100(tmp_path / "cifar", per_class=2, test_per_class=1)
    check_official(sweep(tmp_path, "subclass", METHODS, "dataset=cifar20", f"dataset.root={tmp_path / 'cifar'}",
                         "task=subclass", "task.forget=rocket", "dataset.augmentations=[]", "model.net.width=8",
                         "dataset.train_subset=null", "dataset.test_subset=null"),
                   "subclass")
