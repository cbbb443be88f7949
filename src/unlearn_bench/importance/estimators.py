"""Importance estimators: one mini-batch → a sum of squared gradients per parameter and its count.

- ``batch`` (the official SSD code, paper parity): (∇ mean-batch CE)², counted once per batch;
- ``per_sample`` (true empirical Fisher diagonal): Σ_i (∇ CE(x_i, y_i))², counted per sample;
- ``expected`` (Fisher Forgetting): Σ_i Σ_y p(y|x_i)·(∇ CE(x_i, y))², counted per sample;
- ``output_norm_batch`` / ``output_norm_per_sample`` (LFSSD, label-free): |∇ ||f(x)||²₂|
  (`unlearn_bench.importance.sensitivity`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from unlearn_bench.importance.sensitivity import (
    output_norm_batch_estimator,
    output_norm_per_sample_estimator,
)

Importances = dict[str, torch.Tensor]
BatchEstimator = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[Importances, int]]


def trainable(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def _squared_in_place(grads: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """g² for each gradient, computed in place (no second copy of the gradients).

    A gradient shared by two parameters or not stored densely (an expanded view) is copied first,
    so squaring one never squares another.
    """
    owned, seen = [], set()
    for g in grads:
        if g.data_ptr() in seen or not g.is_contiguous():
            g = g.clone(memory_format=torch.contiguous_format)
        seen.add(g.data_ptr())
        owned.append(g.detach())
    torch._foreach_mul_(owned, owned)
    return owned


def batch_estimator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Importances, int]:
    params = trainable(model)
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), list(params.values()))
    return dict(zip(params, _squared_in_place(grads), strict=True)), 1


def _per_sample_grad_fn(model: nn.Module):
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def sample_loss(params, x, y):
        logits = functional_call(model, (params, buffers), (x.unsqueeze(0),))
        return F.cross_entropy(logits, y.unsqueeze(0))

    return vmap(grad(sample_loss), in_dims=(None, 0, 0))


def per_sample_estimator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Importances, int]:
    params = {n: p.detach() for n, p in trainable(model).items()}
    grads = _per_sample_grad_fn(model)(params, x, y)
    return {n: (g**2).sum(0) for n, g in grads.items()}, len(y)


def expected_estimator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Importances, int]:
    """Fisher under the model's own predictive distribution: one vmapped gradient per (sample, class)."""
    params = {n: p.detach() for n, p in trainable(model).items()}
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)
    n, classes = probs.shape
    grad_fn = _per_sample_grad_fn(model)
    sums = {name: torch.zeros_like(p) for name, p in params.items()}
    for c in range(classes):
        labels = torch.full((n,), c, dtype=torch.long, device=x.device)
        grads = grad_fn(params, x, labels)
        weight = probs[:, c]
        for name, g in grads.items():
            sums[name] += torch.einsum("b,b...->...", weight, g**2)
    return sums, n


ESTIMATORS: dict[str, BatchEstimator] = {
    "batch": batch_estimator,
    "per_sample": per_sample_estimator,
    "expected": expected_estimator,
    "output_norm_batch": output_norm_batch_estimator,
    "output_norm_per_sample": output_norm_per_sample_estimator,
}


def get_estimator(name: str) -> BatchEstimator:
    if name not in ESTIMATORS:
        raise ValueError(f"Unknown importance estimator {name!r}; choose one of {', '.join(ESTIMATORS)}.")
    return ESTIMATORS[name]

