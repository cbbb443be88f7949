"""Random Label (the "RL" baseline of SalUn's comparisons, Fan et al., ICLR 2024): each epoch, train
on the forget set relabelled to random wrong classes, then on the retain set."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import (
    Relabelled,
    dataset_labels,
    progress_enabled,
    random_wrong_labels,
    seed_all,
    train_epochs,
)


class RandomLabel(UnlearningMethod):
    """Official (OPTML-Group/Unlearn-Saliency, unlearn/RL.py, CIFAR-10 branch): per epoch one pass over
    the relabelled forget set, then one over the retain set; SGD momentum 0.9, weight decay 5e-4,
    batch 256, 10 epochs, lr 0.01 (the repository's default `--unlearn_lr`). The official code draws
    labels uniformly from all classes, so some keep their true class; here every forget sample gets a
    different class, drawn afresh each epoch."""

    name = "random_label"
    data_used = ("forget", "retain")

    def __init__(self, epochs: int = 10, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 5e-4,
                 batch_size: int = 256):
        super().__init__()
        self.epochs, self.lr, self.momentum = epochs, lr, momentum
        self.weight_decay, self.batch_size = weight_decay, batch_size

    def prepare(self, model: nn.Module, ctx: UnlearnContext,
                optimizer: torch.optim.Optimizer) -> Callable[[], None] | None:
        """Anything to do before training; returns a function run after every update (SalUn's mask)."""
        return None

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        self.report = {}
        model = model.to(ctx.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)
        after_step = self.prepare(model, ctx, optimizer)
        labels = dataset_labels(ctx.forget_set)
        rng = np.random.default_rng(ctx.seed)
        retain = ctx.loader(ctx.retain_set, shuffle=True, batch_size=self.batch_size)
        progress = progress_enabled(ctx.trainer_cfg)
        forget_losses, retain_losses = [], []
        for epoch in range(self.epochs):
            wrong = random_wrong_labels(labels, ctx.num_classes, rng)
            forget = ctx.loader(Relabelled(ctx.forget_set, wrong), shuffle=True, batch_size=self.batch_size)
            desc = f"{self.name} epoch {epoch + 1}/{self.epochs}"
            forget_losses += train_epochs(model, forget, optimizer, 1, ctx.device, desc=f"{desc} forget",
                                          progress=progress, autocast=ctx.autocast, after_step=after_step)
            retain_losses += train_epochs(model, retain, optimizer, 1, ctx.device, desc=f"{desc} retain",
                                          progress=progress, autocast=ctx.autocast, after_step=after_step)
        self.report = {**self.report, "epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size,
                       "forget_samples": len(ctx.forget_set), "retain_samples": len(ctx.retain_set),
                       "forget_losses": forget_losses, "retain_losses": retain_losses}
        return model.eval()
