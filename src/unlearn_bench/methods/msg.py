"""Masked Small Gradients (MSG), the NeurIPS 2023 unlearning challenge's second-placed entry, as
DeepUnlearn packages it (xcadet/deepunlearn, munl/unlearning/kgltop2.py): gradients summed over a
random retain subset of the forget set's size (CE) and the forget set (−CE); in every Conv2d, the
share `init_rate` of weights with the smallest |gradient| re-initialised (Kaiming normal, fan out)
and, while fine-tuning on the retain set, the other weights' gradients scaled by 0.1."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Subset

from unlearn_bench.methods.base import UnlearnContext
from unlearn_bench.methods.gradient import GradientMethod, Phase
from unlearn_bench.methods.loops import cross_entropy_loss
from unlearn_bench.utils.errors import UnlearnBenchError


def small_gradient_mask(weight: torch.Tensor, grad: torch.Tensor, share: float) -> torch.Tensor:
    """True at the round(share · numel) entries of smallest |grad| (the ones re-initialised)."""
    mask = torch.zeros_like(weight, dtype=torch.bool)
    count = round(share * weight.numel())
    if count:
        mask.view(-1)[torch.topk(-grad.abs().view(-1), k=count).indices] = True
    return mask


class MaskedSmallGradients(GradientMethod):
    """Eval mode for the gradients (the model as it arrives), batch 64 throughout, no augmentation;
    fine-tuning 5 epochs on the retain set in train mode, SGD lr 1e-3 momentum 0.9 wd 5e-4, the rate
    rising to its base over 3 epochs and falling after (schedules.LinearUpDown(3, 6))."""

    name = "msg"
    data_used = ("forget", "retain")

    def __init__(self, optimizer, init_rate: float = 0.3, kept_gradient: float = 0.1, epochs: int = 5,
                 batch_size: int = 64, scheduler=None, clip_grad_norm: float | None = None):
        super().__init__(optimizer, scheduler, clip_grad_norm)
        if not 0 < init_rate < 1:
            raise UnlearnBenchError(f"method.init_rate must lie in (0, 1) (the share of each conv's weights "
                                    f"re-initialised), got {init_rate}.")
        self.init_rate, self.kept_gradient = init_rate, kept_gradient
        self.epochs, self.batch_size = epochs, batch_size
        self.hooks: list = []
        self.reinitialised = 0

    def _accumulate(self, model: nn.Module, ctx: UnlearnContext) -> None:
        """CE over |forget| random retain samples, then −CE over the forget set, summed over batches."""
        model.eval()  # as it arrives from the store (DeepUnlearn sets no mode here)
        retain = ctx.retain_set
        chosen = torch.randperm(len(retain))[: len(ctx.forget_set)].tolist()
        model.zero_grad(set_to_none=True)
        for x, y, *_ in ctx.loader(Subset(retain, chosen), shuffle=True, batch_size=self.batch_size):
            F.cross_entropy(model(x), y).backward()
        for x, y, *_ in ctx.loader(ctx.forget_set, shuffle=True, batch_size=self.batch_size):
            (-F.cross_entropy(model(x), y)).backward()

    def prepare(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        self._accumulate(model, ctx)
        self.reinitialised = 0
        for module in model.modules():
            if not isinstance(module, nn.Conv2d) or module.weight.grad is None:
                continue
            mask = small_gradient_mask(module.weight, module.weight.grad, self.init_rate)
            fresh = torch.empty_like(module.weight)
            nn.init.kaiming_normal_(fresh, mode="fan_out", nonlinearity="relu")
            with torch.no_grad():
                module.weight[mask] = fresh[mask]
            scale = torch.where(mask, 1.0, self.kept_gradient).to(module.weight.dtype)
            self.hooks.append(module.weight.register_hook(lambda grad, scale=scale: grad * scale))
            self.reinitialised += int(mask.sum())
        model.zero_grad(set_to_none=True)
        return model

    def phases(self, ctx: UnlearnContext) -> list[Phase]:
        return [Phase("finetune", "retain_set", self.epochs, self.batch_size, cross_entropy_loss, train_mode=True)]

    def finish(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        for hook in self.hooks:
            hook.remove()
        self.hooks = []
        return model

    def settings(self) -> dict:
        return {"init_rate": self.init_rate, "kept_gradient": self.kept_gradient, "epochs": self.epochs,
                "batch_size": self.batch_size, "reinitialised_weights": self.reinitialised}
