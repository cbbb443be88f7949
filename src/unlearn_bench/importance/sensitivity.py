"""Label-free importances for Loss-Free SSD (LFSSD; Foster, Schoepf, Brintrup, "Loss-Free Machine
Unlearning", ICLR 2024 Tiny Paper, arXiv:2402.19308).

LFSSD replaces the Fisher diagonal by the sensitivity of the squared l2 norm of the model output
(the logits), in the manner of Memory Aware Synapses: Ω_i = mean |∂ ||f(x; θ)||²₂ / ∂θ_i|. Labels
are never read. Two estimators, with the same (sums, count) interface as `importance.ESTIMATORS`:

- ``output_norm_batch`` (the authors' published change to SSD's code, paper parity): per
  mini-batch |∇ mean_b ||f(x_b)||²|, counted once per batch (mean over batches, as SSD's ``batch``);
- ``output_norm_per_sample`` (the paper's formula): Σ_k |∇ ||f(x_k)||²|, counted per sample.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

Importances = dict[str, torch.Tensor]


def _trainable(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def squared_output_norm(logits: torch.Tensor) -> torch.Tensor:
    """||f(x)||²₂ of each row of `logits`."""
    return logits.pow(2).sum(dim=1)


def output_norm_batch_estimator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Importances, int]:
    del y  # label-free
    params = _trainable(model)
    grads = torch.autograd.grad(squared_output_norm(model(x)).mean(), list(params.values()))
    return {n: g.detach().abs() for n, g in zip(params, grads, strict=True)}, 1


def output_norm_per_sample_estimator(model: nn.Module, x: torch.Tensor,
                                     y: torch.Tensor) -> tuple[Importances, int]:
    del y  # label-free
    params = {n: p.detach() for n, p in _trainable(model).items()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def sample_norm(p, sample):
        return squared_output_norm(functional_call(model, (p, buffers), (sample.unsqueeze(0),))).sum()

    grads = vmap(grad(sample_norm), in_dims=(None, 0))(params, x)
    return {n: g.abs().sum(0) for n, g in grads.items()}, len(x)
