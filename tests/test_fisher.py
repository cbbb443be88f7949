"""Fisher Forgetting: the vectorised expected Fisher (importance.estimators' `expected` estimator) equals
the official batch-size-1 loop of C backward passes, and the noise follows the official recipe."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from unlearn_bench.importance import compute_importance
from unlearn_bench.methods.fisher import expected_fisher_loop, noise_distribution


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 4),
    )
    with torch.no_grad():  # non-trivial running statistics, used in eval mode
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("batch_size", [1, 3, 7])
def test_vectorised_expected_fisher_equals_the_batch_size_1_loop(batch_size):
    torch.manual_seed(1)
    data = TensorDataset(torch.randn(7, 1, 5, 5), torch.randint(0, 4, (7,)))
    model = tiny_model()
    reference = expected_fisher_loop(model, data, torch.device("cpu"), progress=False)
    fast = compute_importance("expected", model, DataLoader(data, batch_size=batch_size),
                              torch.device("cpu"), desc="test")
    assert fast.keys() == reference.keys()
    for name in reference:
        assert fast[name].shape == reference[name].shape
        diff = (fast[name] - reference[name]).abs().max().item()
        assert diff <= 1e-6, f"{name}: max |vectorised - loop| = {diff:.2e}"
        assert reference[name].abs().max() > 0, f"{name}: the reference is all zeros"


def test_noise_variance_follows_the_official_recipe():
    theta = torch.ones(3, 2)  # an output layer: 3 classes, 2 features
    fisher = torch.tensor([[1.0, 1e-6], [4.0, 0.0], [1.0, 1.0]])
    mu, var = noise_distribution(theta, fisher, alpha=1e-6, is_output=True, forget_classes=[1])
    # 1/(F+1e-8) capped at 1e2 (output layer), ×α, averaged over dim 1, ×10 (output layer, class task)
    row0 = 1e-6 * (1.0 + 100.0) / 2 * 10
    assert var[0].tolist() == pytest.approx([row0, row0])
    assert var[1].tolist() == pytest.approx([1e-3, 1e-3])  # forget row: 1e-4, then ×10
    assert mu[1].tolist() == [0.0, 0.0] and mu[0].tolist() == [1.0, 1.0]


def test_noise_without_forget_class_boosts_only_1d_tensors():
    theta, fisher = torch.ones(3, 2), torch.ones(3, 2)
    _, var = noise_distribution(theta, fisher, alpha=1.0, is_output=True, forget_classes=[])
    assert torch.allclose(var, torch.ones(3, 2))  # sub-class / random: no ×10 on the weight
    _, bias_var = noise_distribution(torch.ones(3), torch.zeros(3), alpha=1.0, is_output=True,
                                     forget_classes=[])
    assert bias_var.tolist() == pytest.approx([1e3] * 3)  # capped at 1e2 (output), ×10 (1-D)
    _, conv_var = noise_distribution(torch.ones(2, 3, 1, 1), torch.zeros(2, 3, 1, 1), alpha=1.0,
                                     is_output=False, forget_classes=[])
    assert conv_var.shape == (2, 3, 1, 1) and conv_var.max().item() == pytest.approx(1e3)
