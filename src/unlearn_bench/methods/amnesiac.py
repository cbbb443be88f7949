"""Amnesiac unlearning (Graves et al., AAAI-21): train on the retain set mixed with the forget
samples relabelled to random wrong classes."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import (
    Relabelled,
    dataset_labels,
    random_wrong_labels,
    seed_all,
    train_epochs,
)


class Amnesiac(UnlearningMethod):
    """Official: Adam 1e-4, 3 epochs, batch 128, over Dr plus the relabelled Df."""

    name = "amnesiac"
    data_used = ("forget", "retain")

    def __init__(self, epochs: int = 3, lr: float = 1e-4, batch_size: int = 128):
        super().__init__()
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        labels = dataset_labels(ctx.forget_set)
        wrong = random_wrong_labels(labels, ctx.num_classes, np.random.default_rng(ctx.seed))
        data = ConcatDataset([Relabelled(ctx.forget_set, wrong), ctx.retain_set])
        model = model.to(ctx.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        loader = ctx.loader(data, shuffle=True, batch_size=self.batch_size)
        losses = train_epochs(model, loader, optimizer, self.epochs, ctx.device, desc="amnesiac",
                              progress=ctx.progress, autocast=ctx.autocast)
        self.report = {"epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size,
                       "forget_samples": len(ctx.forget_set), "retain_samples": len(ctx.retain_set),
                       "epoch_losses": losses}
        return model.eval()
