"""Influence unlearning (IU; Izzo et al. 2021, Koh & Liang 2017) as OPTML-Group/Unlearn-Sparse runs it
(unlearn/Wfisher.py): one Newton-like step θ ← θ + α·k, where k comes from the difference of the forget
and retain gradients through the file's "woodfisher" recursion over single retain samples.

That recursion (the definitions Python keeps, the second in the file) is not the WoodFisher inverse:
its direction vector `o` is the first retain gradient, only ever shrunk, so k = v − c·g₁. This module
reproduces it, named `coded_woodfisher`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import seed_all
from unlearn_bench.utils.errors import UnlearnBenchError


def coded_woodfisher(gradients: Iterable[torch.Tensor], v: torch.Tensor, n: int) -> torch.Tensor:
    """Unlearn-Sparse's `woodfisher(model, loader, v)` on per-sample `gradients`: k ← v; the first
    gradient becomes o; each later g: k ← k − (k·g)/(n + o·g)·o, o ← o − (o·g)/(n + o·g)·o; it stops
    once the sample index exceeds n (n + 2 samples read)."""
    k, o = v.clone(), None
    for index, g in enumerate(gradients):
        if o is None:
            o = g.clone()
        else:
            tmp = o @ g
            k = k - ((k @ g) / (n + tmp)) * o
            o = o - (tmp / (n + tmp)) * o
        if index > n:
            break
    return k


def flat_gradient(model: nn.Module) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                      for p in model.parameters()])


def summed_gradient(model: nn.Module, loader) -> tuple[torch.Tensor, int]:
    """Σ over the loader's samples of ∇ CE (the authors' batch-mean gradient × batch size), and the count."""
    model.zero_grad(set_to_none=True)
    count = 0
    for x, y, *_ in loader:
        F.cross_entropy(model(x), y, reduction="sum").backward()
        count += len(y)
    return flat_gradient(model), count


def sample_gradients(model: nn.Module, loader) -> Iterator[torch.Tensor]:
    for x, y, *_ in loader:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        yield flat_gradient(model)


class InfluenceUnlearning(UnlearningMethod):
    """Eval mode throughout. v = Σ_F ∇ℓ / n − Σ_R ∇ℓ · n_f / (n · n_r) (n = n_f + n_r; batches of
    `batch_size`, the training augmentation as the authors' datasets keep it), k = coded_woodfisher of
    the first `n_recursion` + 2 retain samples one at a time in dataset order, then θ ← θ + α·k over
    the parameters (BatchNorm statistics untouched)."""

    name = "iu"
    data_used = ("forget", "retain")

    def __init__(self, alpha: float = 0.2, n_recursion: int = 1000, batch_size: int = 256, augment: bool = True):
        super().__init__()
        if alpha <= 0:
            raise UnlearnBenchError(f"method.alpha must be > 0 (the step along k), got {alpha}.")
        self.alpha, self.n_recursion, self.batch_size, self.augment = alpha, n_recursion, batch_size, augment

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        model = model.to(ctx.device).eval()
        forget = ctx.forget_train_set if self.augment else ctx.forget_set
        retain = ctx.retain_train_set if self.augment else ctx.retain_set
        forget_sum, n_f = summed_gradient(model, ctx.loader(forget, shuffle=False, batch_size=self.batch_size))
        retain_sum, n_r = summed_gradient(model, ctx.loader(retain, shuffle=False, batch_size=self.batch_size))
        n = n_f + n_r
        v = forget_sum / n - retain_sum * (n_f / (n * n_r))
        k = coded_woodfisher(sample_gradients(model, ctx.loader(retain, shuffle=False, batch_size=1)), v,
                             self.n_recursion)
        model.zero_grad(set_to_none=True)
        with torch.no_grad():
            offset = 0
            for p in model.parameters():
                p.add_(self.alpha * k[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
        self.report = {"alpha": self.alpha, "n_recursion": self.n_recursion, "batch_size": self.batch_size,
                       "augment": self.augment, "forget_samples": n_f, "retain_samples": n_r,
                       "recursion_samples": min(n_r, self.n_recursion + 2), "v_norm": float(v.norm()),
                       "step_norm": float(self.alpha * k.norm())}
        return model.eval()
