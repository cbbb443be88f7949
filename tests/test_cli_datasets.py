"""End to end on the tiny dataset fixtures: configs compose, loaders plug into run(cfg)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixture_data import write_cifar100, write_fashion_mnist, write_pins
from unlearn_bench.experiment.runner import run
from unlearn_bench.experiment.setup import load_data
from unlearn_bench.utils.errors import UnlearnBenchError

ONE_EPOCH = ("training.epochs=1", "training.milestones=[]", "training.warmup_epochs=0", "model.net.width=8")


def _user_error(err: BaseException | None) -> UnlearnBenchError | None:
    """The UnlearnBenchError behind Hydra's InstantiationException, as the CLI reports it."""
    while err is not None and not isinstance(err, UnlearnBenchError):
        err = err.__cause__
    return err


def test_cifar20_subclass_end_to_end(make_cfg, tmp_path):
    write_cifar100(tmp_path / "cifar", per_class=2, test_per_class=1)
    cfg = make_cfg("dataset=cifar20", f"dataset.root={tmp_path / 'cifar'}", "task=subclass",
                   "task.forget=rocket", "dataset.augmentations=[]", *ONE_EPOCH)
    data = load_data(cfg)
    rockets_in_train = int((data.train.fine_targets == 69).sum())
    record = run(cfg)
    assert record["forget"] == "rocket" and record["task"] == "subclass"
    assert record["split"] == {
        "forget_train": rockets_in_train,
        "retain_train": len(data.train) - rockets_in_train,
        "forget_test": 1,
        "retain_test": 99,
    }
    assert 0 < rockets_in_train <= 2
    saved = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert saved["dataset"] == "cifar20" and saved["split"] == record["split"]


@pytest.mark.slow
def test_cifar20_class_task_takes_the_paper_alias(make_cfg, tmp_path):
    write_cifar100(tmp_path / "cifar", per_class=2, test_per_class=1)
    cfg = make_cfg("dataset=cifar20", f"dataset.root={tmp_path / 'cifar'}", "method=baseline", *ONE_EPOCH)
    assert cfg.task.forget == "vehicle2"
    record = run(cfg)
    assert record["forget"] == "vehicles_2" and record["split"]["forget_test"] == 5


def test_subclass_on_digits_is_refused(make_cfg):
    with pytest.raises(UnlearnBenchError, match="superclasses"):
        run(make_cfg("task=subclass", "task.forget=3"))


def test_missing_cifar_files_stop_the_run(make_cfg, tmp_path):
    with pytest.raises(Exception) as caught:
        run(make_cfg("dataset=cifar10", f"dataset.root={tmp_path / 'empty'}"))
    error = _user_error(caught.value)
    assert error is not None
    assert "cifar-10-batches-py/data_batch_1 is missing" in str(error) and "dataset.download=true" in str(error)


@pytest.mark.slow
def test_pins_end_to_end(make_cfg, tmp_path):
    write_pins(tmp_path / "faces", num_classes=3, per_class=10)
    record = run(make_cfg("dataset=pins", f"dataset.root={tmp_path / 'faces'}", "dataset.num_classes=3",
                          "method=baseline", *ONE_EPOCH))
    assert record["forget"] == "Alex Lawther" and record["split"]["forget_test"] == 2


@pytest.mark.slow
def test_fashion_mnist_end_to_end(make_cfg, tmp_path):
    write_fashion_mnist(tmp_path / "fm" / "FashionMNIST" / "raw", per_class=6, test_per_class=2)
    record = run(make_cfg("dataset=fashion_mnist", f"dataset.root={tmp_path / 'fm'}", *ONE_EPOCH))
    assert record["forget"] == "Trouser" and record["split"]["forget_test"] == 2


@pytest.mark.parametrize("dataset", ["cifar10", "cifar20", "cifar100", "pins", "fashion_mnist"])
@pytest.mark.parametrize("model", ["resnet18", "vit"])
def test_every_dataset_composes_with_the_paper_models(make_cfg, dataset, model):
    cfg = make_cfg(f"dataset={dataset}", f"model={model}", fast=False)
    assert cfg.dataset.name == dataset and cfg.training.epochs > 0
    expected = {("cifar100", "resnet18"): 200, ("cifar20", "resnet18"): 40, ("cifar10", "resnet18"): 20,
                ("pins", "resnet18"): 200, ("cifar10", "vit"): 8, ("cifar100", "vit"): 8, ("cifar20", "vit"): 9}
    if (dataset, model) in expected:
        assert cfg.training.epochs == expected[dataset, model]
