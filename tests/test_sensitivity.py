"""LFSSD's label-free importances against direct autograd and closed forms on tiny models."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from unlearn_bench.importance import compute_importance
from unlearn_bench.importance.sensitivity import (
    output_norm_batch_estimator,
    output_norm_per_sample_estimator,
)

CPU = torch.device("cpu")


def linear() -> nn.Linear:
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 1.0]]))
        net.bias.copy_(torch.tensor([0.0, -1.0]))
    return net


X = torch.tensor([[1.0, 1.0], [2.0, -1.0]])
Y = torch.tensor([0, 1])


def test_per_sample_matches_the_closed_form_on_a_linear_model():
    # f(x) = Wx + b, ∂||f||²/∂W = 2 f xᵀ, ∂||f||²/∂b = 2 f; f(x1) = (-1, 0.5), f(x2) = (4, -1)
    sums, count = output_norm_per_sample_estimator(linear(), X, Y)
    assert count == 2
    expected_w = (2 * torch.tensor([[-1.0], [0.5]]) @ X[:1]).abs() + (2 * torch.tensor([[4.0], [-1.0]]) @ X[1:]).abs()
    assert torch.allclose(sums["weight"], expected_w)
    assert torch.allclose(sums["bias"], torch.tensor([2.0 + 8.0, 1.0 + 2.0]))


def test_batch_matches_the_closed_form_on_a_linear_model():
    # |∇ mean_k ||f(x_k)||²|: the signed gradients average before the absolute value
    sums, count = output_norm_batch_estimator(linear(), X, Y)
    assert count == 1
    assert torch.allclose(sums["bias"], torch.tensor([abs(-2.0 + 8.0) / 2, abs(1.0 - 2.0) / 2]))


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 4 * 4, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def direct(net: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """|∂ ||f(x)||²₂ / ∂θ| of one input, by plain autograd on the module."""
    net.zero_grad()
    net(x.unsqueeze(0)).pow(2).sum().backward()
    return {n: p.grad.abs().clone() for n, p in net.named_parameters()}


def test_both_estimators_equal_direct_autograd_on_a_small_cnn():
    net = SmallNet()
    x = torch.randn(5, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    per_sample, _ = output_norm_per_sample_estimator(net, x, torch.zeros(5, dtype=torch.long))
    by_sample = [direct(net, xi) for xi in x]
    for name in per_sample:
        assert torch.allclose(per_sample[name], sum(g[name] for g in by_sample), atol=1e-5)
    batch, _ = output_norm_batch_estimator(net, x, torch.zeros(5, dtype=torch.long))
    net.zero_grad()
    net(x).pow(2).sum(1).mean().backward()
    for name, p in net.named_parameters():
        assert torch.allclose(batch[name], p.grad.abs(), atol=1e-6)


@pytest.mark.parametrize("estimator", ["output_norm_batch", "output_norm_per_sample"])
def test_the_pass_averages_and_never_reads_labels(estimator):
    net = SmallNet()
    x = torch.randn(6, 1, 4, 4, generator=torch.Generator().manual_seed(2))

    def importance(labels):
        loader = DataLoader(TensorDataset(x, labels), batch_size=4)
        return compute_importance(estimator, net, loader, CPU, backend="loop")

    first, second = importance(torch.zeros(6, dtype=torch.long)), importance(torch.arange(6) % 4)
    assert all(torch.equal(first[n], second[n]) for n in first)
    if estimator == "output_norm_per_sample":  # the mean over all 6 samples
        expected = {n: sum(direct(net, xi)[n] for xi in x) / 6 for n in first}
    else:  # the mean over the 2 batches (4 + 2 samples)
        expected = {}
        for lo, hi in ((0, 4), (4, 6)):
            net.zero_grad()
            net(x[lo:hi]).pow(2).sum(1).mean().backward()
            for n, p in net.named_parameters():
                expected[n] = expected.get(n, 0) + p.grad.abs() / 2
    for name in first:
        assert torch.allclose(first[name], expected[name], atol=1e-5)
