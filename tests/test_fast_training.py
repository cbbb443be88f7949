"""Training paths: one-cycle schedule, bf16, channels_last, DDP (gloo, spawned), methods' loops."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F

from unlearn_bench.data.base import ImageDataset
from unlearn_bench.data.digits import load_digits
from unlearn_bench.data.prepare import prepare
from unlearn_bench.data.transforms import TransformSpec
from unlearn_bench.methods.loops import train_epochs
from unlearn_bench.models.cnn import SmallCNN
from unlearn_bench.training.module import Recipe, fit_classifier, onecycle_factor
from unlearn_bench.utils.errors import UnlearnBenchError
from unlearn_bench.utils.precision import importance_trainer_cfg, method_autocast

SPEC = TransformSpec((0.305,), (0.376,))


def test_onecycle_rises_to_the_peak_then_falls_to_zero():
    f = [onecycle_factor(s, total_steps=8, peak=0.25) for s in range(9)]
    assert f == pytest.approx([0.5, 1.0, 6 / 6, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0.0])


def test_recipe_refuses_an_unknown_schedule():
    with pytest.raises(UnlearnBenchError, match="training.schedule='cosine' is unknown"):
        Recipe(torch.optim.SGD, schedule="cosine")


def tiny_digits(n: int = 240):
    data = prepare(load_digits(), train_subset=n, test_subset=60, val_fraction=0.2, seed=0)
    return ImageDataset(data.train, spec=SPEC, augment=True), ImageDataset(data.val, spec=SPEC)


def trainer(**settings):
    return {"accelerator": "cpu", "devices": 1, "strategy": "auto", "precision": "32-true",
            "enable_progress_bar": False, **settings}


RECIPE = Recipe(functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9), epochs=2, batch_size=32,
                schedule="onecycle", label_smoothing=0.1)


@pytest.mark.parametrize("settings", [{"precision": "bf16-mixed", "channels_last": True}, {"compile": False}])
def test_fit_trains_in_bf16_and_channels_last(settings):
    train, val = tiny_digits()
    torch.manual_seed(0)
    net = SmallCNN(1, 10, 8)
    before = [p.detach().clone() for p in net.parameters()]
    info = fit_classifier(net, train, val, RECIPE, trainer(**settings), seed=0)
    assert info["devices"] == 1 and 0 <= info["best_val_acc"] <= 100 and info["best_epoch"] in (0, 1)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    assert all(p.is_contiguous() and p.dtype == torch.float32 for p in net.parameters())


@pytest.mark.slow
def test_fit_trains_with_ddp_on_two_spawned_cpu_ranks():
    train, val = tiny_digits(160)
    torch.manual_seed(0)
    net = SmallCNN(1, 10, 8)
    before = [p.detach().clone() for p in net.parameters()]
    info = fit_classifier(net, train, val, RECIPE, trainer(devices=2, strategy="ddp_spawn"), seed=0)
    assert info["devices"] == 2 and 0 <= info["best_val_acc"] <= 100 and info["best_epoch"] in (0, 1)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_method_loops_run_forward_in_the_trainer_precision():
    train, _ = tiny_digits(64)
    seen = []

    def loss(model, batch):
        logits = model(batch[0])
        seen.append(logits.dtype)
        return F.cross_entropy(logits, batch[1])

    from unlearn_bench.data.batches import make_loader

    net = SmallCNN(1, 10, 8)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    train_epochs(net, make_loader(train, "cpu", 32), optimizer, 1, torch.device("cpu"), loss,
                 progress=False, autocast=lambda: method_autocast({"precision": "bf16-mixed"}, "cpu"))
    train_epochs(net, make_loader(train, "cpu", 32), optimizer, 1, torch.device("cpu"), loss, progress=False)
    assert seen == [torch.bfloat16] * 2 + [torch.float32] * 2


def test_importance_pass_stays_32_bit_unless_asked():
    assert importance_trainer_cfg({"precision": "bf16-mixed", "devices": 1})["precision"] == "32-true"
    asked = importance_trainer_cfg({"precision": "bf16-mixed", "importance_precision": "bf16-mixed"})
    assert asked["precision"] == "bf16-mixed"


def test_a_null_optimizer_argument_is_not_passed():
    recipe = Recipe(functools.partial(torch.optim.AdamW, lr=1e-3, momentum=None, weight_decay=0.05))
    assert recipe.optimizer.func is torch.optim.AdamW
    assert recipe.optimizer.keywords == {"lr": 1e-3, "weight_decay": 0.05}
    assert Recipe(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9)).optimizer.keywords == \
        {"lr": 0.1, "momentum": 0.9}
