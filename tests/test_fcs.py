"""FCS (the NeurIPS'23 challenge's first place as DeepUnlearn packages it, munl/unlearning/kgltop1.py):
its two losses on hand-made tensors with values worked out by hand, its learning rates, the order in
which its three optimisers step, the trainer precision and the YAML's defaults."""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import replace

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from torch.utils.data import Subset

from conftest import CONF
from method_context import build_context
from reference_setup import Samples, Tiny, context, retain_set
from unlearn_bench.methods.fcs import FCS, forget_contrast_loss, uniform_kl
from unlearn_bench.methods.provenance import without_provenance
from unlearn_bench.utils.errors import UnlearnBenchError, build

pytestmark = pytest.mark.usefixtures("one_thread")


# --- stage 1: KL to the uniform distribution ------------------------------------------------------

def test_uniform_kl_is_summed_over_classes_and_averaged_over_the_batch():
    # row 1: softmax([0, ln 3]) = [1/4, 3/4], KL(u‖p) = ½ ln(½/¼) + ½ ln(½/¾) = ½ ln(4/3); row 2: uniform, 0
    logits = torch.tensor([[0.0, math.log(3.0)], [5.0, 5.0]])
    assert float(uniform_kl(logits)) == pytest.approx(0.5 * math.log(4 / 3) / 2, abs=1e-7)


def test_uniform_kl_over_three_classes_by_hand():
    logits = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    z = math.log(math.e + math.e**2 + math.e**3)
    by_hand = sum((1 / 3) * (math.log(1 / 3) - (v - z)) for v in (1.0, 2.0, 3.0))
    assert float(uniform_kl(logits)) == pytest.approx(by_hand, abs=1e-7)
    assert float(uniform_kl(torch.zeros(4, 3))) == 0.0


# --- stage 2: the forget round's loss --------------------------------------------------------------

def test_forget_loss_of_one_forget_row_by_hand():
    # similarities [1, 2]: −mean(log_softmax) = ln(e + e²) − 1.5 = ln(1 + e) − ½
    forget, retain = torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert float(forget_contrast_loss(forget, retain, 1.0)) == pytest.approx(math.log(1 + math.e) - 0.5, abs=1e-7)
    # the temperature divides the similarities: [½, 1] gives ln(e^½ + e) − ¾
    assert float(forget_contrast_loss(forget, retain, 2.0)) == pytest.approx(
        math.log(math.exp(0.5) + math.e) - 0.75, abs=1e-7)


def test_forget_loss_softmaxes_over_the_retain_batch_and_averages_every_entry():
    # rows [1, 2] and [0, 0] (similarities with T = 1): four entries 1 − L, 2 − L, −ln 2, −ln 2,
    # L = ln(e + e²); their negated mean is (2L − 3 + 2 ln 2) / 4
    forget, retain = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    big_l = math.log(math.e + math.e**2)
    assert float(forget_contrast_loss(forget, retain, 1.0)) == pytest.approx(
        (2 * big_l - 3 + 2 * math.log(2)) / 4, abs=1e-7)
    # (a softmax over the forget batch instead would give (2 ln(1 + e) + 2 ln(1 + e²) − 3) / 4 ≈ 0.970,
    # a sum over the retain batch twice this value)


def test_forget_loss_of_similarities_that_are_all_equal_is_ln_of_the_retain_batch():
    forget, retain = torch.randn(3, 4), torch.zeros(5, 4)
    assert float(forget_contrast_loss(forget, retain, 1.15)) == pytest.approx(math.log(5), abs=1e-6)


def test_forget_loss_sends_no_gradient_to_the_retain_outputs():
    forget = torch.tensor([[1.0, 2.0]], requires_grad=True)
    retain = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    forget_contrast_loss(forget, retain, 1.15).backward()
    assert retain.grad is None and forget.grad is not None
    # d/df of ln(Σ_j e^{f·r_j/T}) − mean_j f·r_j/T: (softmax(s) − ½) · r_j / T, s = [1, 2] / 1.15
    p = torch.softmax(torch.tensor([1.0, 2.0]) / 1.15, dim=0)
    assert torch.allclose(forget.grad, ((p - 0.5) / 1.15).view(1, 2), atol=1e-7)


# --- one short run: which optimiser steps when, with which rate, in which mode --------------------

class Recording(torch.optim.SGD):
    """SGD that logs (its tag, the optimiser itself, its rate, the model's mode) at every step."""

    def __init__(self, params, log: list, tag: str, model, **kwargs):
        super().__init__(params, **kwargs)
        self.log, self.tag, self.model = log, tag, model

    def step(self, closure=None):
        self.log.append((self.tag, id(self), self.param_groups[0]["lr"], self.model.training))
        return super().step(closure)


def _run(batch_size: int = 2, epochs: int = 2, forget_size: int = 4, **kwargs):
    torch.manual_seed(0)
    model = Tiny()
    forget = Samples([[1.0, 0.5], [0.8, -0.2], [1.2, 0.1], [0.9, 0.3]][:forget_size], [0] * forget_size)
    ctx = context(original=model, forget_set=forget)
    log: list = []

    def opt(tag, **sgd):
        return functools.partial(Recording, log=log, tag=tag, model=model, **sgd)

    method = FCS(opt("uniform", lr=5e-3, momentum=0.9), opt("forget", lr=0.2, momentum=0.9),
                 opt("retain", lr=1.6, momentum=0.9, weight_decay=1e-2),
                 functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, eta_min=0.01),
                 epochs=epochs, batch_size=batch_size, **kwargs)
    out = method.unlearn(model, ctx.for_method(method))
    return method, out, ctx, log


def test_one_pass_towards_uniform_then_forget_and_retain_rounds_each_epoch():
    method, model, ctx, log = _run()
    tags = [tag for tag, *_ in log]
    # |Df| = 4, |Dr| = 6, batch 2: 2 uniform steps; per epoch 2 forget steps (zip stops with Df) and 3 retain steps
    assert tags == ["uniform"] * 2 + (["forget"] * 2 + ["retain"] * 3) * 2
    assert all(training for *_, training in log)  # train mode at every step
    assert not model.training  # handed back in eval mode, as every method
    # three optimisers, each built once (their momentum carries over from epoch to epoch)
    assert len({ident for _, ident, *_ in log}) == 3
    assert len({ident for tag, ident, *_ in log if tag == "forget"}) == 1
    assert method.report["steps"] == {"uniform": 2, "forget": 4, "retain": 6}
    assert ctx.data_read() == ["forget", "retain"]
    # the loaders: shuffled batches of the method's size, one forget and one retain loader
    assert ctx.calls == [(4, True, 2), (6, True, 2)]


def test_the_forget_rate_is_cosine_annealed_per_step_and_the_retain_rate_scaled_by_the_batch():
    method, _, _, log = _run()
    forget = [lr for tag, _, lr, _ in log if tag == "forget"]
    t_max = 4  # len(forget loader) · epochs
    expected = [0.01 + (0.2 - 0.01) * (1 + math.cos(math.pi * t / t_max)) / 2 for t in range(4)]
    assert forget == pytest.approx(expected, abs=1e-12)
    assert [lr for tag, _, lr, _ in log if tag == "retain"] == pytest.approx([1.6 * 2 / 64] * 6)
    assert {lr for tag, _, lr, _ in log if tag == "uniform"} == {5e-3}
    assert method.report["forget_schedule_steps"] == 4
    assert method.report["retain_lr"] == pytest.approx(0.05)
    assert method.report["epoch_lrs"]["forget"] == pytest.approx(expected[::2])


def test_a_retain_set_smaller_than_the_forget_set_ends_each_forget_round_early():
    # |Df| = 4 in batches of 2 against a retain subset of 2 (one batch): the zip stops after 1 pair
    torch.manual_seed(0)
    model = Tiny().eval()
    ctx = context(original=model, forget_set=Samples([[1.0, 0.5]] * 4, [0] * 4),
                  retain_set=Subset(retain_set(), [0, 1]))
    method = FCS(functools.partial(torch.optim.SGD, lr=1e-3), functools.partial(torch.optim.SGD, lr=1e-3),
                 functools.partial(torch.optim.SGD, lr=1e-3), epochs=1, batch_size=2)
    method.unlearn(model, ctx.for_method(method))
    assert method.report["steps"] == {"uniform": 2, "forget": 1, "retain": 1}


def test_without_a_retain_lr_batch_the_rate_is_as_given():
    method, _, _, log = _run(retain_lr_batch=None)
    assert {lr for tag, _, lr, _ in log if tag == "retain"} == {1.6}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"temperature": 0.0}, r"method.temperature must be > 0"),
    ({"retain_lr_batch": 0}, r"method.retain_lr_batch must be > 0"),
    ({"optimizer": {"lr": 0.1}}, r"method.optimizer must be an optimiser target"),
])
def test_bad_settings_are_one_sentence(kwargs, message):
    sgd = functools.partial(torch.optim.SGD, lr=1e-3)
    args = {"optimizer": sgd, "forget_optimizer": sgd, "retain_optimizer": sgd, **kwargs}
    with pytest.raises(UnlearnBenchError, match=message):
        FCS(**args)


def test_fcs_is_defined_for_every_task():
    assert FCS.tasks == ("class", "subclass", "random") and FCS.data_used == ("forget", "retain")


def test_the_yaml_builds_the_method_with_the_authors_defaults():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["method=fcs", "model=resnet18", "dataset=cifar10"])
    method = build(without_provenance(cfg.method))
    assert type(method) is FCS
    assert (method.epochs, method.batch_size, method.temperature, method.retain_lr_batch) == (8, 256, 1.15, 64)
    assert method.optimizer.func is torch.optim.SGD
    assert method.optimizer.keywords == {"lr": 5e-3, "momentum": 0.9, "weight_decay": 0.0}
    assert method.forget_optimizer.keywords == {"lr": 3e-4, "momentum": 0.9, "weight_decay": 0.0}
    assert method.retain_optimizer.keywords == {"lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-2}
    assert method.forget_scheduler.func is torch.optim.lr_scheduler.CosineAnnealingLR
    assert method.forget_scheduler.keywords == {"eta_min": 1e-6}


def test_the_forward_passes_run_in_the_trainer_precision(tmp_path):
    ctx = build_context(tmp_path)
    bf16 = replace(ctx, trainer_cfg=OmegaConf.merge(ctx.trainer_cfg, {"precision": "bf16-mixed"}))
    model = copy.deepcopy(ctx.original)
    dtypes = set()
    model.get_classifier().register_forward_hook(lambda module, args, out: dtypes.add(out.dtype))
    sgd = functools.partial(torch.optim.SGD, lr=1e-3, momentum=0.9)
    method = FCS(sgd, sgd, sgd, epochs=1)
    method.unlearn(model, bf16.for_method(method))
    assert dtypes == {torch.bfloat16}
    assert all(math.isfinite(v) for losses in method.report["epoch_losses"].values() for v in losses)
