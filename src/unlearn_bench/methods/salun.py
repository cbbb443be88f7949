"""SalUn (Fan et al., ICLR 2024, "SalUn: Empowering Machine Unlearning via Gradient-based Weight
Saliency"): Random Label updates restricted to the weights most salient for the forget loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from unlearn_bench.methods.base import UnlearnContext
from unlearn_bench.methods.random_label import RandomLabel
from unlearn_bench.methods.saliency import GradientMask, forget_gradient_saliency, top_fraction_mask


class SalUn(RandomLabel):
    """Official (OPTML-Group/Unlearn-Saliency, Classification/README.md): mask of the top 50 % of
    |∇θ ℓ(D_f)| (generate_mask.py, batch 256), then Random Label for 10 epochs at lr 0.1 (SGD momentum
    0.9, weight decay 5e-4, batch 256) updating only masked weights. The saliency is taken at the
    original weights as the paper defines it (the official script also takes SGD steps while it sums
    the gradients)."""

    name = "salun"

    def __init__(self, mask_fraction: float = 0.5, epochs: int = 10, lr: float = 0.1, momentum: float = 0.9,
                 weight_decay: float = 5e-4, batch_size: int = 256):
        super().__init__(epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=batch_size)
        self.mask_fraction = mask_fraction
        self.mask: GradientMask | None = None

    def prepare(self, model: nn.Module, ctx: UnlearnContext, optimizer: torch.optim.Optimizer) -> Callable[[], None]:
        loader = ctx.loader(ctx.forget_set, shuffle=False, batch_size=self.batch_size)
        scores = forget_gradient_saliency(model, loader, ctx.device, ctx.autocast)
        self.mask = GradientMask(model, top_fraction_mask(scores, self.mask_fraction), optimizer)
        kept = sum(int(m.sum()) for m in self.mask.masks.values())
        self.report = {"mask_fraction": self.mask_fraction, "salient_weights": kept,
                       "weights": sum(m.numel() for m in self.mask.masks.values())}
        return self.mask

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        try:
            return super().unlearn(model, ctx)
        finally:
            if self.mask is not None:
                self.mask.remove()
