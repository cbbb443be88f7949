"""logger=wandb works offline with no key and keeps results.json inside the W&B run."""

import json

import pytest

from unlearn_bench.pipeline import run


@pytest.mark.slow
def test_wandb_offline_run_keeps_results(make_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    record = run(make_cfg("logger=wandb", f"logger.wandb.save_dir={tmp_path}/wb", "task=random",
                          "task.n_forget=20"))
    saved = list((tmp_path / "wb" / "wandb").glob("offline-run-*/files/results.json"))
    assert len(saved) == 1
    local = json.loads((tmp_path / "out" / "results.json").read_text())
    assert json.loads(saved[0].read_text()) == local
    assert local["metrics"]["unlearned"]["test_acc"] == record["metrics"]["unlearned"]["test_acc"]
