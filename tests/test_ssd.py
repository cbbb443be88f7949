"""SSD's update (Algorithm 1) on hand-made tensors."""

import pytest
import torch
from torch import nn

from unlearn_bench.methods.ssd import SSD, dampen
from unlearn_bench.utils.errors import UnlearnBenchError


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        self.b = nn.Parameter(torch.tensor([5.0, 6.0]))
        self.register_buffer("running_mean", torch.tensor([7.0, 8.0]))


def test_dampen_selects_strictly_and_scales_by_ratio():
    model = Tiny()
    imp_d = {"w": torch.tensor([1.0, 1.0, 1.0, 0.0]), "b": torch.tensor([1.0, 1.0])}
    imp_f = {"w": torch.tensor([5.0, 20.0, 10.0, 1.0]), "b": torch.tensor([0.0, 40.0])}
    changed, total = dampen(model, imp_d, imp_f, alpha=10.0, lambda_=1.0)
    # w0: 5 > 10 no; w1: 20 > 10 -> ×1/20; w2: 10 > 10 no (strict); w3: 1 > 0 -> ×0/1
    assert model.w.tolist() == pytest.approx([1.0, 0.1, 3.0, 0.0])
    # b0: 0 > 10 no; b1: 40 > 10 -> ×1/40
    assert model.b.tolist() == pytest.approx([5.0, 0.15])
    assert model.running_mean.tolist() == [7.0, 8.0]
    assert (changed, total) == (3, 6)


def test_dampen_factor_is_capped_at_one():
    model = Tiny()
    imp_d = {"w": torch.tensor([1.0, 1.0, 1.0, 1.0])}
    imp_f = {"w": torch.tensor([20.0, 20.0, 0.5, 20.0])}
    # λ·D/Df = 5·1/20 = 0.25 < 1 and α=2 selects w0, w1, w3; λ=100 would give 5 -> capped at 1
    dampen(model, imp_d, imp_f, alpha=2.0, lambda_=5.0)
    assert model.w.tolist() == pytest.approx([0.25, 0.5, 3.0, 1.0])
    model = Tiny()
    changed, _ = dampen(model, imp_d, imp_f, alpha=2.0, lambda_=100.0)
    assert model.w.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert changed == 3


def test_parameters_without_importance_are_untouched():
    model = Tiny()
    dampen(model, {"w": torch.zeros(4)}, {"w": torch.ones(4)}, alpha=1.0, lambda_=1.0)
    assert model.w.tolist() == [0.0, 0.0, 0.0, 0.0]
    assert model.b.tolist() == [5.0, 6.0]


@pytest.mark.parametrize("alpha,lambda_", [(0, 1), (-1, 1), (1, 0), (1, -0.5)])
def test_non_positive_hyperparameters_are_refused(alpha, lambda_):
    with pytest.raises(UnlearnBenchError, match="alpha > 0 and lambda_ > 0"):
        SSD(alpha=alpha, lambda_=lambda_)


def test_unknown_estimator_is_refused():
    with pytest.raises(UnlearnBenchError, match="Unknown importance estimator"):
        SSD(estimator="magic")


def test_dampen_refuses_importances_that_would_broadcast():
    net = torch.nn.Linear(3, 2)
    scalar = {n: torch.tensor(1.0) for n, _ in net.named_parameters()}
    exact = {n: torch.ones_like(p) for n, p in net.named_parameters()}
    with pytest.raises(UnlearnBenchError, match=r"Importances of weight have shape \(\) / \(2, 3\)"):
        dampen(net, scalar, exact, alpha=1.0, lambda_=1.0)
