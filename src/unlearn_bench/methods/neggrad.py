"""Gradient ascent on the forget set (GA; Thudi et al. 2022's NegGrad, as OPTML-Group/Unlearn-Sparse
runs it): −CE on augmented forget batches, the model in train mode, nothing of the retain set."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import UnlearnContext
from unlearn_bench.methods.gradient import GradientMethod, Phase


def ascent_loss(model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    """−CE (mean over the batch): minimising it ascends the forget loss."""
    return -F.cross_entropy(model(batch[0]), batch[1])


class NegGrad(GradientMethod):
    """Unlearn-Sparse's GA (unlearn/GA.py through unlearn/impl.py): `epochs` passes over the forget
    set in batches of `batch_size`, with the training augmentation (its forget set keeps the train
    transform), BatchNorm in train mode, SGD with momentum and weight decay from the config.
    augment=false ascends on the un-augmented forget images instead."""

    name = "neggrad"
    data_used = ("forget",)

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer], epochs: int = 5, batch_size: int = 256,
                 augment: bool = True, scheduler=None, clip_grad_norm: float | None = None):
        super().__init__(optimizer, scheduler, clip_grad_norm)
        self.epochs, self.batch_size, self.augment = epochs, batch_size, augment

    def phases(self, ctx: UnlearnContext) -> list[Phase]:
        data = "forget_train_set" if self.augment else "forget_set"
        return [Phase("ascent", data, self.epochs, self.batch_size, ascent_loss, train_mode=True)]

    def settings(self) -> dict:
        return {"epochs": self.epochs, "batch_size": self.batch_size, "augment": self.augment}
