"""A grid cannot start by accident: too many jobs, or scale=paper without a GPU, waits for +confirm=true."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from cli_helpers import finish, start
from unlearn_bench.sweep.confirm import CONFIRM_ENV, start_refusal


def config(scale="cpu", **extra):
    return OmegaConf.create({"scale": {"name": scale}, "model": {"name": "resnet18"}, **extra})


@pytest.fixture
def unconfirmed(monkeypatch):
    monkeypatch.delenv(CONFIRM_ENV, raising=False)


@pytest.mark.parametrize(("scale", "jobs", "has_gpu", "refused"), [
    ("cpu", 84, False, None),
    ("cpu", 100, False, None),
    ("cpu", 101, False, "this multirun starts 101 jobs (more than 100)"),
    ("paper", 2, False, "this multirun starts 2 jobs training resnet18 at scale=paper"),
    ("paper", None, False, "this multirun starts a grid training resnet18 at scale=paper"),
    ("paper", 2, True, None),
    ("paper", 560, True, "this multirun starts 560 jobs (more than 100)"),
])
def test_large_grids_and_paper_grids_without_a_gpu_are_refused(unconfirmed, scale, jobs, has_gpu, refused):
    sentence = start_refusal(config(scale), jobs, 100, has_gpu=lambda: has_gpu)
    if refused is None:
        assert sentence is None
    else:
        assert sentence.startswith(refused) and sentence.endswith("add +confirm=true to start it anyway, or make it "
                                                                  "smaller (scale=cpu or scale=smoke, fewer values per key).")


def test_confirming_starts_any_grid(unconfirmed, monkeypatch):
    assert start_refusal(config("paper", confirm=True), 560, 100, has_gpu=lambda: False) is None
    monkeypatch.setenv(CONFIRM_ENV, "1")
    assert start_refusal(config("paper"), 560, 100, has_gpu=lambda: False) is None


def test_cli_a_paper_grid_without_a_gpu_exits_2_before_any_job_then_runs_when_confirmed(tmp_path):
    sweep = tmp_path / "sweep"
    grid = ("-m", "scale=paper", "model=resnet18", "dataset=digits", "dataset.train_subset=300", "method=baseline",
            "training.epochs=1", "training.milestones=[1]",
            "trainer.enable_progress_bar=false", f"hydra.sweep.dir={sweep}")
    code, _, err = finish(start(tmp_path, *grid, extra_env={CONFIRM_ENV: "0"}))
    assert code == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: this multirun starts 1 job training resnet18 at scale=paper") and "Traceback" not in err
    assert not sweep.exists() and not (tmp_path / ".cache").exists()

    code, _, err = finish(start(tmp_path, *grid, "+confirm=true", extra_env={CONFIRM_ENV: "0"}))
    assert code == 0, err[-3000:]
    assert json.loads((sweep / "0" / "results.json").read_text())["method"] == "baseline"


@pytest.mark.parametrize(("overrides", "sweep", "models"), [
    (["experiment=table2"], [], ["resnet18", "vit"]),
    (["experiment=table2", "scale=cpu"], [], ["cnn", "vit_tiny"]),  # digits: SmallCNN stands in for ResNet18
    ([], ["model=cnn,vit"], ["cnn", "vit"]),
    ([], ["method=ssd,baseline"], None),
])
def test_the_grids_models_are_read_from_the_sweep(overrides, sweep, models):
    from hydra import compose, initialize_config_module
    from omegaconf import open_dict, read_write

    from unlearn_bench.sweep.size import swept_choices

    with initialize_config_module("unlearn_bench.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.overrides.task = list(cfg.hydra.overrides.task) + sweep  # as the command line gives a sweep
    assert swept_choices(cfg, "model") == models


def test_only_the_papers_models_make_a_paper_grid_wait(unconfirmed):
    assert start_refusal(config("paper"), 16, 100, has_gpu=lambda: False, models=["cnn"]) is None
    refused = start_refusal(config("paper"), 16, 100, has_gpu=lambda: False, models=["cnn", "vit"])
    assert refused.startswith("this multirun starts 16 jobs training vit at scale=paper")
