"""NegGrad+ (Kurmanji et al., NeurIPS 2023, "Towards Unbounded Machine Unlearning"): gradient
descent on retain batches and gradient ascent on forget batches in one weighted loss."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.errors import UnlearnBenchError
from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import paired_epochs, progress_enabled, seed_all


def neggrad_plus_loss(retain_logits: torch.Tensor, retain_y: torch.Tensor, forget_logits: torch.Tensor,
                      forget_y: torch.Tensor, alpha: float) -> torch.Tensor:
    """alpha·CE(retain) − (1 − alpha)·CE(forget): minimising it ascends the forget loss."""
    return alpha * F.cross_entropy(retain_logits, retain_y) - (1 - alpha) * F.cross_entropy(forget_logits, forget_y)


class NegGradPlus(UnlearningMethod):
    """Official (SCRUB repository, small_scale_unlearning.ipynb): SGD lr 0.01 without weight decay,
    10 epochs over the retain set, each retain batch paired with the next (cycled) forget batch,
    alpha = 0.95."""

    name = "neggrad_plus"
    data_used = ("forget", "retain")

    def __init__(self, alpha: float = 0.95, epochs: int = 10, lr: float = 0.01, momentum: float = 0.0,
                 weight_decay: float = 0.0, retain_batch_size: int = 128, forget_batch_size: int = 128):
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise UnlearnBenchError(f"method.alpha must lie in [0, 1] (the retain loss weight), got {alpha}.")
        self.alpha, self.epochs, self.lr, self.momentum, self.weight_decay = alpha, epochs, lr, momentum, weight_decay
        self.retain_batch_size, self.forget_batch_size = retain_batch_size, forget_batch_size

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        model = model.to(ctx.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)
        alpha = self.alpha

        def loss_fn(m: nn.Module, retain: Sequence[torch.Tensor], forget: Sequence[torch.Tensor]) -> torch.Tensor:
            return neggrad_plus_loss(m(retain[0]), retain[1], m(forget[0]), forget[1], alpha)

        retain = ctx.loader(ctx.retain_set, shuffle=True, batch_size=self.retain_batch_size)
        forget = ctx.loader(ctx.forget_set, shuffle=True, batch_size=self.forget_batch_size)
        losses = paired_epochs(model, retain, forget, optimizer, self.epochs, ctx.device, loss_fn,
                               desc="NegGrad+", progress=progress_enabled(ctx.trainer_cfg), autocast=ctx.autocast)
        self.report = {"alpha": alpha, "epochs": self.epochs, "lr": self.lr,
                       "retain_samples": len(ctx.retain_set), "forget_samples": len(ctx.forget_set),
                       "epoch_losses": losses}
        return model.eval()
