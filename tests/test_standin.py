"""scale=cpu / smoke put their stand-in models in place of the paper's in single runs too."""

from __future__ import annotations

import json

import pytest
import torch

from cli_helpers import finish, start
from unlearn_bench.experiment.standin import overrides_with_model, stand_in_for


@pytest.mark.parametrize("overrides, expected", [
    (["scale=cpu", "dataset=cifar10", "model=resnet18"], "resnet_small"),
    (["scale=cpu", "dataset=digits", "model=resnet18"], "cnn"),
    (["scale=cpu", "dataset=cifar10", "model=vit"], "vit_tiny"),
    (["scale=cpu", "dataset=cifar10", "model=resnet_small"], None),
    (["scale=cpu", "dataset=cifar10", "model=cnn"], None),
    (["scale=paper", "dataset=cifar10", "model=resnet18"], None),
    (["scale=cpu", "dataset=cifar10", "model=resnet18", "scale.models.resnet18=resnet18"], None),
])
def test_the_scale_names_the_stand_in(make_cfg, overrides, expected):
    assert stand_in_for(make_cfg(*overrides)) == expected


def test_the_stand_in_replaces_the_model_choice_only():
    overrides = ["model=resnet18", "model.width=8", "seed=1", "+model.extra=1"]
    assert overrides_with_model(overrides, "cnn") == ["model.width=8", "seed=1", "+model.extra=1", "model=cnn"]
    assert overrides_with_model(["seed=1"], "cnn") == ["seed=1", "model=cnn"]


def test_a_single_run_trains_the_stand_in_with_its_recipe_and_saves_the_config_that_ran(tmp_path):
    from omegaconf import OmegaConf

    code, out, err = finish(start(tmp_path, "model=resnet18", "method=baseline",
                                  f"hydra.run.dir={tmp_path}/run"), timeout=600)
    assert code == 0, err
    config = json.loads((tmp_path / "run" / "results.json").read_text())["config"]
    assert config["model"]["name"] == "cnn" and config["training"]["epochs"] == 1
    assert "runs as its stand-in model=cnn" in out + err
    # .hydra/config.yaml and overrides.yaml say what ran, as results.json does
    saved = OmegaConf.load(tmp_path / "run" / ".hydra" / "config.yaml")
    assert saved.model.name == "cnn" and saved.training.epochs == config["training"]["epochs"]
    assert "model=cnn" in OmegaConf.load(tmp_path / "run" / ".hydra" / "overrides.yaml")


def _augmentations(cfg) -> list[str]:
    return [a["_target_"].rsplit(".", 1)[1] for a in cfg.dataset.augmentations]


def test_the_cpu_cifar10_recipe_drops_only_the_rotation(make_cfg):
    assert _augmentations(make_cfg("scale=cpu", "dataset=cifar10", "model=resnet_small")) == \
        ["RandomCrop", "RandomHorizontalFlip"]
    assert _augmentations(make_cfg("dataset=cifar10", "model=resnet18")) == \
        ["RandomCrop", "RandomHorizontalFlip", "RandomRotation"]
    assert _augmentations(make_cfg("scale=cpu", "dataset=cifar10", "model=resnet_small",
                                   "dataset.augmentations=[]")) == []


def test_the_small_vit_brings_its_own_recipe_on_every_dataset(make_cfg):
    from unlearn_bench.utils.errors import build

    for dataset in ("digits", "cifar10"):
        cfg = make_cfg("scale=cpu", f"dataset={dataset}", "model=vit_tiny")
        optimizer = cfg.training.optimizer
        assert (optimizer._target_, optimizer.lr, optimizer.weight_decay, cfg.training.schedule) == \
            ("torch.optim.AdamW", 1e-3, 0.05, "onecycle")
        built = build(cfg.training).optimizer(torch.nn.Linear(2, 2).parameters())
        assert isinstance(built, torch.optim.AdamW) and built.defaults["lr"] == 1e-3
    assert make_cfg("dataset=digits", "model=cnn").training.optimizer._target_ == "torch.optim.SGD"
    assert make_cfg("model=vit_tiny", "training.optimizer.lr=0.01").training.optimizer.lr == 0.01


def test_cfg_job_prints_the_stand_in():
    import subprocess
    import sys

    from omegaconf import OmegaConf

    from cli_helpers import REPO, env

    printed = subprocess.run([sys.executable, "-m", "unlearn_bench", "scale=smoke", "model=resnet18", "--cfg", "job"],
                             cwd=REPO, env=env(), capture_output=True, text=True, timeout=300)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert OmegaConf.create(printed.stdout).model.name == "cnn"
