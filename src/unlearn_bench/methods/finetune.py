"""Finetune: keep training the original on the retain set only (catastrophic forgetting of Df)."""

from __future__ import annotations

import torch
from torch import nn

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import (
    LossFn,
    cross_entropy_loss,
    seed_all,
    train_epochs,
)


class Finetune(UnlearningMethod):
    """SGD on the retain set, constant learning rate (official: 5 epochs, lr 0.02, batch 64)."""

    name = "finetune"
    data_used = ("retain",)

    def __init__(self, epochs: int = 5, lr: float = 0.02, momentum: float = 0.9,
                 weight_decay: float = 5e-4, batch_size: int = 64):
        super().__init__()
        self.epochs, self.lr, self.momentum = epochs, lr, momentum
        self.weight_decay, self.batch_size = weight_decay, batch_size

    def epoch_loss(self, epoch: int) -> LossFn:
        """The loss of epoch `epoch` (0-based): cross-entropy; ℓ1-sparse adds its penalty."""
        return cross_entropy_loss

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        model = model.to(ctx.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)
        loader = ctx.loader(ctx.retain_set, shuffle=True, batch_size=self.batch_size)
        losses = []
        for epoch in range(self.epochs):
            losses += train_epochs(model, loader, optimizer, 1, ctx.device, self.epoch_loss(epoch),
                                   desc=f"{self.name} {epoch + 1}/{self.epochs}",
                                   progress=ctx.progress, autocast=ctx.autocast)
        self.report = {"epochs": self.epochs, "lr": self.lr, "momentum": self.momentum,
                       "weight_decay": self.weight_decay, "batch_size": self.batch_size,
                       "retain_samples": len(ctx.retain_set), "epoch_losses": losses}
        return model.eval()
