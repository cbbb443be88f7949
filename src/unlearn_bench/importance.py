"""Diagonal Fisher importances and their on-disk cache.

One accumulation loop serves every estimator. An estimator maps one mini-batch to a sum of
squared gradients per parameter and the count it stands for; the importance is the total sum
divided by the total count:

- ``batch`` (the official SSD code, paper parity): (∇ mean-batch CE)², counted once per batch;
- ``per_sample`` (true empirical Fisher diagonal): Σ_i (∇ CE(x_i, y_i))², counted per sample;
- ``expected`` (Fisher Forgetting): Σ_i Σ_y p(y|x_i)·(∇ CE(x_i, y))², counted per sample.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from unlearn_bench.training.store import content_key, load_verified, save_verified

Importances = dict[str, torch.Tensor]
BatchEstimator = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[Importances, int]]


def _trainable(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def batch_estimator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Importances, int]:
    params = _trainable(model)
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), list(params.values()))
    return {n: g.detach() ** 2 for n, g in zip(params, grads)}, 1


def _per_sample_grad_fn(model: nn.Module):
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def sample_loss(params, x, y):
        logits = functional_call(model, (params, buffers), (x.unsqueeze(0),))
        return F.cross_entropy(logits, y.unsqueeze(0))

    return vmap(grad(sample_loss), in_dims=(None, 0, 0))


def per_sample_estimator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Importances, int]:
    params = {n: p.detach() for n, p in _trainable(model).items()}
    grads = _per_sample_grad_fn(model)(params, x, y)
    return {n: (g**2).sum(0) for n, g in grads.items()}, len(y)


def expected_estimator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Importances, int]:
    """Fisher under the model's own predictive distribution: one vmapped gradient per (sample, class)."""
    params = {n: p.detach() for n, p in _trainable(model).items()}
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
}


def get_estimator(name: str) -> BatchEstimator:
    if name not in ESTIMATORS:
        raise ValueError(f"Unknown importance estimator {name!r}; choose one of {', '.join(ESTIMATORS)}.")
    return ESTIMATORS[name]


def compute_importance(estimator: str, model: nn.Module, loader: DataLoader, device: torch.device,
                       desc: str = "importance") -> Importances:
    """Σ batch sums / Σ counts over the loader, model in eval mode."""
    fn = get_estimator(estimator)
    model = model.to(device).eval()
    sums = {n: torch.zeros_like(p) for n, p in _trainable(model).items()}
    count = 0
    for x, y in tqdm(loader, desc=desc, leave=False):
        batch_sums, batch_count = fn(model, x.to(device), y.to(device))
        for name, value in batch_sums.items():
            sums[name] += value
        count += batch_count
    return {n: s / max(count, 1) for n, s in sums.items()}


class ImportanceStore:
    """Importances of a model's full training set, stored once under `root/<key>.pt`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def get_or_compute(self, material: dict, compute: Callable[[], Importances],
                       use_cache: bool = True) -> tuple[Importances, dict]:
        """Read the stored importances for `material`; compute and store them when absent or corrupt."""
        key = content_key(material)
        path = self.root / f"{key}.pt"
        start = time.perf_counter()
        cached = load_verified(path) if use_cache else None
        if cached is not None:
            return cached, {"key": key, "cache_hit": True, "seconds": time.perf_counter() - start}
        importances = {n: t.cpu() for n, t in compute().items()}
        seconds = time.perf_counter() - start
        save_verified(path, importances)
        return importances, {"key": key, "cache_hit": False, "seconds": seconds}
