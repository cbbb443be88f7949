"""SFR-on (methods/sfron.py): the adaptive forget loss, the α_t schedule, the Fisher-ratio mask, and the
structure of a short run (a forget step every forget_every-th iteration before the retain step, the
mask and the clipping on forget steps only, one optimiser for both, train mode), the YAML defaults
and the refusal of class forgetting. The replay of the authors' loop is in test_reference_steps.py."""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import replace

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from torch import nn

from cli_helpers import fast_records
from conftest import CONF
from method_context import build_context
from reference_setup import Samples, context
from unlearn_bench.methods.provenance import without_provenance
from unlearn_bench.methods.sfron import (
    SFROn,
    adaptive_loss,
    forget_weight,
    mean_squared_gradients,
    saliency_mask,
)
from unlearn_bench.utils.errors import UnlearnBenchError, build

pytestmark = pytest.mark.usefixtures("one_thread")


def _logits_with_ce(losses) -> torch.Tensor:
    """Two-class logits (0, z) for target 0 whose CE is each of `losses`: z = log(e^ℓ − 1)."""
    z = torch.tensor([math.log(math.expm1(v)) for v in losses], dtype=torch.float64)
    return torch.stack([torch.zeros_like(z), z], dim=1).requires_grad_(True)


def test_adaptive_loss_by_hand():
    # CE (1, 4), λ 0.5: c = (1, 1/2), loss = (1 + 2) / 1.5 = 2; dloss/dℓ = c / Σc = (2/3, 1/3)
    logits = _logits_with_ce([1.0, 4.0])
    targets = torch.tensor([0, 0])
    loss = adaptive_loss(logits, targets, 0.5)
    assert loss.item() == pytest.approx(2.0, abs=1e-12)
    loss.backward()
    # dCE/dz = p₁ = 1 − e^(−ℓ); the weights are detached, so only ℓ_i carries gradient
    expected = [2 / 3 * (1 - math.exp(-1.0)), 1 / 3 * (1 - math.exp(-4.0))]
    assert logits.grad[:, 1].tolist() == pytest.approx(expected, abs=1e-12)
    assert adaptive_loss(logits, targets, 1.0).item() == pytest.approx(2 / 1.25, abs=1e-12)  # c = (1, 1/4)
    assert adaptive_loss(logits, targets, 0.0).item() == pytest.approx(2.5, abs=1e-12)  # λ 0: the mean


def test_adaptive_loss_of_one_sample_is_its_ce():
    logits = _logits_with_ce([0.7])
    assert adaptive_loss(logits, torch.tensor([0]), 0.5).item() == pytest.approx(0.7, abs=1e-12)


@pytest.mark.parametrize(("t", "expected"), [(0, 25.0), (375, 25 * (1 + math.sqrt(0.5)) / 2), (750, 12.5),
                                             (1495, 25 * (1 + math.cos(math.pi * 1495 / 1500)) / 2), (1500, 0.0)])
def test_the_forget_weight_decays_on_a_cosine(t, expected):
    assert forget_weight(25.0, t, 1500) == pytest.approx(expected, abs=1e-12)


def test_the_mask_keeps_the_weights_whose_forget_fisher_is_at_least_threshold_times_the_retain_one():
    forget = {"w": torch.tensor([0.0, 2e-8, 1.0, 0.5, 3.0])}
    retain = {"w": torch.tensor([0.0, 1e-8, 1.0, 1.0, 1.0])}
    # ratios (1e-15 + F_f) / (1e-15 + F_r): 1 (both 0), ≈ 2, 1, 0.5, 3
    assert saliency_mask(forget, retain, 1.0)["w"].tolist() == [True, True, True, False, True]
    assert saliency_mask(forget, retain, 1.5)["w"].tolist() == [False, True, False, False, True]
    assert saliency_mask(forget, retain, 1.0)["w"].dtype == torch.bool


class NoBias(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 2, bias=False)
        nn.init.zeros_(self.fc.weight)

    def forward(self, x):
        return self.fc(x)


def test_the_fisher_is_the_mean_over_batches_of_the_squared_batch_gradient_in_eval_mode():
    # W = 0: p = (½, ½); batch (x 1, y 0): ∇W = (p − e₀)·x = (−½, ½); batch (x 2, y 1): (1, −1)
    model = NoBias().double().train()
    batches = [[torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([0])],
               [torch.tensor([[2.0]], dtype=torch.float64), torch.tensor([1])]]
    fisher = mean_squared_gradients(model, batches, torch.device("cpu"), lambda: torch.autocast("cpu", enabled=False))
    assert fisher["fc.weight"].view(-1).tolist() == pytest.approx([0.625, 0.625], abs=1e-7)
    assert not model.training and model.fc.weight.grad is None  # eval mode; nothing left on the model


class Recorder(torch.optim.SGD):
    """SGD that records, at every step, the model's mode, the rate and the gradients it steps with."""

    instances: list = []
    model: nn.Module | None = None

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.steps = []
        Recorder.instances.append(self)

    def step(self, closure=None):
        grads = {n: p.grad.detach().clone() for n, p in Recorder.model.named_parameters()}
        self.steps.append({"training": Recorder.model.training, "lr": self.param_groups[0]["lr"], "grads": grads})
        return super().step(closure)


def _data():
    forget = Samples([[1.0, 0.5], [0.8, -0.2], [1.2, 0.1], [0.9, 0.3]], [0, 0, 0, 0])
    retain = Samples([[-1.0, 0.3], [0.2, 1.1], [-0.4, -0.9], [0.5, 0.7], [-0.6, 0.2], [0.1, -1.3]], [1, 2, 1, 2, 1, 2])
    return forget, retain


def test_a_short_run_masks_and_clips_only_the_forget_steps_of_one_shared_optimiser():
    forget, retain = _data()
    ctx = context(task="random", forget_train_set=forget, retain_train_set=retain)
    model = copy.deepcopy(ctx.original)
    Recorder.instances, Recorder.model = [], model
    clip = 0.05
    method = SFROn(functools.partial(Recorder, lr=0.01, momentum=0.9, weight_decay=5e-4),
                   functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=6), iterations=6,
                   forget_every=3, clip_grad_norm=clip, batch_size=2)
    masks = saliency_mask(mean_squared_gradients(copy.deepcopy(ctx.original), [(forget.x[:2], forget.y[:2]),
                                                                                (forget.x[2:], forget.y[2:])],
                                                 ctx.device, ctx.autocast),
                          mean_squared_gradients(copy.deepcopy(ctx.original), [(retain.x[i:i + 2], retain.y[i:i + 2])
                                                                                for i in (0, 2, 4)],
                                                 ctx.device, ctx.autocast), 1.0)
    assert any(bool(m.all()) is False for m in masks.values()) and any(bool(m.any()) for m in masks.values())
    method.unlearn(model, ctx)

    assert len(Recorder.instances) == 1  # one optimiser for the forget and the retain steps
    steps = Recorder.instances[0].steps
    assert len(steps) == 8  # t 0: forget, retain; 1, 2: retain; 3: forget, retain; 4, 5: retain
    forget_steps = [0, 4]
    for i, s in enumerate(steps):
        assert s["training"]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in s["grads"].values()]))
        outside = [g[~masks[n]] for n, g in s["grads"].items()]
        if i in forget_steps:
            assert all(torch.count_nonzero(o) == 0 for o in outside)
            assert norm.item() == pytest.approx(clip, rel=1e-4)
        else:
            assert any(torch.count_nonzero(o) > 0 for o in outside)
            assert norm.item() > clip
    # the scheduler steps once per iteration, after both of its steps
    iteration_of_step = [0, 0, 1, 2, 3, 3, 4, 5]
    rates = [0.01 * (1 + math.cos(math.pi * t / 6)) / 2 for t in iteration_of_step]
    assert [s["lr"] for s in steps] == pytest.approx(rates, abs=1e-12)
    assert ctx.calls == [(4, True, 2), (6, True, 2)]
    assert method.report["forget_steps"] == 2 and method.report["retain_steps"] == 6
    assert method.report["salient_weights"] == sum(int(m.sum()) for m in masks.values())
    assert not model.training


def test_mask_false_lets_the_forget_steps_move_every_weight():
    forget, retain = _data()
    ctx = context(task="random", forget_train_set=forget, retain_train_set=retain)
    model = copy.deepcopy(ctx.original)
    Recorder.instances, Recorder.model = [], model
    method = SFROn(functools.partial(Recorder, lr=0.01), None, iterations=1, mask=False, clip_grad_norm=None,
                   batch_size=2)
    method.unlearn(model, ctx)
    first = Recorder.instances[0].steps[0]["grads"]
    assert all(torch.count_nonzero(g) == g.numel() for n, g in first.items() if n.endswith("weight"))
    assert method.report["salient_weights"] is None and ctx.calls == [(4, True, 2), (6, True, 2)]


def test_augment_false_unlearns_with_the_plain_images():
    forget, retain = _data()
    ctx = context(task="random", forget_set=forget, retain_set=retain)
    SFROn(functools.partial(torch.optim.SGD, lr=0.01), iterations=2, batch_size=2, augment=False).unlearn(
        copy.deepcopy(ctx.original), ctx)
    assert ctx.calls == [(4, True, 2), (6, True, 2)]


@pytest.mark.parametrize("task", ["class", "subclass"])
def test_sfron_refuses_class_and_subclass_forgetting(task):
    assert SFROn.tasks == ("random",) and SFROn.data_used == ("forget", "retain")
    with pytest.raises(UnlearnBenchError, match=f"SFR-on is not defined for {task} forgetting"):
        SFROn(functools.partial(torch.optim.SGD, lr=0.01)).unlearn(copy.deepcopy(context().original),
                                                                   context(task=task))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"optimizer": 0.01}, "method.optimizer must be an optimiser target with _partial_: true"),
    ({"clip_grad_norm": 0.0}, "method.clip_grad_norm must be > 0"),
    ({"forget_every": 0}, "method.iterations and method.forget_every must be ≥ 1"),
])
def test_bad_settings_are_one_sentence(kwargs, message):
    with pytest.raises(UnlearnBenchError, match=message):
        SFROn(**{"optimizer": functools.partial(torch.optim.SGD, lr=0.01), **kwargs})


def test_the_yaml_builds_sfron_with_the_authors_defaults():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["method=sfron", "task=random", "model=resnet18", "dataset=cifar10"])
        short = compose("config", overrides=["method=sfron", "method.iterations=20"])
    method = build(without_provenance(cfg.method))
    assert type(method) is SFROn
    assert {k: getattr(method, k) for k in ("iterations", "forget_every", "alpha", "lambd", "threshold", "mask",
                                            "clip_grad_norm", "batch_size", "augment")} == {
        "iterations": 1500, "forget_every": 5, "alpha": 25.0, "lambd": 0.5, "threshold": 1.0, "mask": True,
        "clip_grad_norm": 7.0, "batch_size": 128, "augment": True}
    assert method.optimizer.func is torch.optim.SGD
    assert method.optimizer.keywords == {"lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4}
    assert method.scheduler.func is torch.optim.lr_scheduler.CosineAnnealingLR
    assert method.scheduler.keywords == {"T_max": 1500}
    assert build(without_provenance(short.method)).scheduler.keywords == {"T_max": 20}  # follows iterations


def test_every_forward_pass_runs_in_the_trainer_precision(tmp_path):
    ctx = build_context(tmp_path, task="random")
    bf16 = replace(ctx, trainer_cfg=OmegaConf.merge(ctx.trainer_cfg, {"precision": "bf16-mixed"}))
    model = copy.deepcopy(ctx.original)
    dtypes = set()
    model.get_classifier().register_forward_hook(lambda module, args, out: dtypes.add(out.dtype))
    method = SFROn(functools.partial(torch.optim.SGD, lr=0.01), iterations=3)
    method.unlearn(model, bf16.for_method(method))
    assert dtypes == {torch.bfloat16}


def test_cli_random_forgetting_on_digits(tmp_path):
    [record] = fast_records(tmp_path, "method=sfron", "task=random", "method.iterations=10")
    assert record["method"] == "sfron" and record["data_read"] == ["forget", "retain"]
    report = record["method_report"]
    assert report["forget_steps"] == 2 and report["retain_steps"] == 10 and report["samples"]["forget"] == 100
    assert report["scheduler"] == {"name": "CosineAnnealingLR", "T_max": 10}
    assert 0 < report["salient_weights"] < report["weights"]
