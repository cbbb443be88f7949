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
    """As the authors run it (OPTML-Group/Unlearn-Saliency, Classification/README.md since April 2024,
    generate_mask.py, unlearn/RL.py): the mask keeps the top 50 % of |Σ_batches ∇θ CE(D_f)| taken at
    the original weights in eval mode (batch 256), then Random Label for 10 epochs at lr 0.013 (SGD
    momentum 0.9, weight decay 5e-4, batch 256) moves only the masked weights; the others are put back
    and their momentum cleared after every step (RL.py since Feb 2026). Until April 2024 the README
    gave lr 0.1 for the same run (`method.lr=0.1`)."""

    name = "salun"

    def __init__(self, mask_fraction: float = 0.5, epochs: int = 10, lr: float = 0.013, momentum: float = 0.9,
                 weight_decay: float = 5e-4, batch_size: int = 256, labels: str = "uniform",
                 schedule: str = "auto"):
        super().__init__(epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=batch_size,
                         labels=labels, schedule=schedule)
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
