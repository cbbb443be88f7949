"""Weight saliency (SalUn, Fan et al., ICLR 2024): which weights the forget loss's gradient points at,
and a gradient mask that lets only those weights move."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.loops import Autocast


def batch_gradients(model: nn.Module, loader: Iterable, device: torch.device,
                    autocast: Autocast = contextlib.nullcontext) -> Iterator[dict[str, torch.Tensor]]:
    """Per batch, ∇θ of the batch's mean CE (float32; parameters without a gradient left out), in eval mode."""
    model.eval()
    params = dict(model.named_parameters())
    for batch in loader:
        x, y = batch[0].to(device), batch[1].to(device)
        with autocast():
            loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        yield {name: g.float() for name, g in zip(params, grads, strict=True) if g is not None}


def forget_gradient_saliency(model: nn.Module, loader: Iterable, device: torch.device,
                             autocast: Autocast = contextlib.nullcontext) -> dict[str, torch.Tensor]:
    """|Σ_batches ∇θ CE(model(x), y)| at the model's current weights, in eval mode, per parameter."""
    total = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    for grads in batch_gradients(model, loader, device, autocast):
        for name, g in grads.items():
            total[name] += g
    return {name: g.abs() for name, g in total.items()}


def top_fraction_mask(scores: dict[str, torch.Tensor], fraction: float) -> dict[str, torch.Tensor]:
    """Boolean masks keeping exactly the int(fraction · n) largest scores over all n entries together
    (ties broken by position)."""
    flat = torch.cat([s.flatten() for s in scores.values()])
    keep = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    keep[torch.topk(flat, int(fraction * flat.numel()), sorted=False).indices] = True
    masks, start = {}, 0
    for name, s in scores.items():
        masks[name] = keep[start:start + s.numel()].view_as(s)
        start += s.numel()
    return masks


class GradientMask:
    """Only masked weights move: gradients of the others are zeroed, and after each optimizer step the
    others are put back to their starting values and their momentum cleared (weight decay would
    otherwise still move them), as the official SalUn code does."""

    def __init__(self, model: nn.Module, masks: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer):
        self.params = dict(model.named_parameters())
        self.masks, self.optimizer = masks, optimizer
        self.start = {name: p.detach().clone() for name, p in self.params.items()}
        self.hooks = [p.register_hook(lambda g, m=masks[name]: g * m) for name, p in self.params.items()]

    @torch.no_grad()
    def __call__(self) -> None:
        for name, p in self.params.items():
            mask = self.masks[name]
            p.copy_(torch.where(mask, p, self.start[name]))
            state = self.optimizer.state.get(p, {})
            if state.get("momentum_buffer") is not None:
                state["momentum_buffer"].mul_(mask)

    def remove(self) -> None:
        for hook in self.hooks:
            hook.remove()
