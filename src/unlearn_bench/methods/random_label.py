"""Random Label (the "RL" baseline of SalUn's comparisons, Fan et al., ICLR 2024): each epoch, train
on the forget set relabelled to random classes, and on the retain set."""

from __future__ import annotations

from collections.abc import Callable

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
from unlearn_bench.utils.errors import UnlearnBenchError

LABEL_DRAWS = ("uniform", "other")
SCHEDULES = ("auto", "separate", "mixed")
MIXED_FROM_CLASSES = 100  # the authors mix forget and retain samples on CIFAR-100 and TinyImageNet


def uniform_labels(n: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """n labels drawn uniformly from all num_classes (about 1/K keep their true class)."""
    return rng.integers(0, num_classes, size=n)


class RandomLabel(UnlearningMethod):
    """As the authors run it (OPTML-Group/Unlearn-Saliency, Classification/unlearn/RL.py): SGD
    momentum 0.9, weight decay 5e-4, batch 256, 10 epochs, lr 0.01 (the repository's default
    `--unlearn_lr`); each epoch the forget samples get labels drawn uniformly from all classes
    (labels=uniform; `other`: always a different class, this suite's earlier draw). schedule: the
    authors' CIFAR-10/SVHN branch takes one pass over the relabelled forget set, then one over the
    retain set (`separate`); their CIFAR-100/TinyImageNet branch shuffles both into one pass
    (`mixed`); `auto` picks `mixed` from 100 classes on."""

    name = "random_label"
    data_used = ("forget", "retain")

    def __init__(self, epochs: int = 10, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 5e-4,
                 batch_size: int = 256, labels: str = "uniform", schedule: str = "auto"):
        super().__init__()
        if labels not in LABEL_DRAWS:
            raise UnlearnBenchError(f"method.labels must be one of {', '.join(LABEL_DRAWS)}, got {labels!r}.")
        if schedule not in SCHEDULES:
            raise UnlearnBenchError(f"method.schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}.")
        self.epochs, self.lr, self.momentum = epochs, lr, momentum
        self.weight_decay, self.batch_size = weight_decay, batch_size
        self.labels, self.schedule = labels, schedule

    def prepare(self, model: nn.Module, ctx: UnlearnContext,
                optimizer: torch.optim.Optimizer) -> Callable[[], None] | None:
        """Anything to do before training; returns a function run after every update (SalUn's mask)."""
        return None

    def schedule_for(self, num_classes: int) -> str:
        if self.schedule != "auto":
            return self.schedule
        return "mixed" if num_classes >= MIXED_FROM_CLASSES else "separate"

    def draw_labels(self, true: np.ndarray, num_classes: int, rng: np.random.Generator) -> np.ndarray:
        if self.labels == "uniform":
            return uniform_labels(len(true), num_classes, rng)
        return random_wrong_labels(true, num_classes, rng)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        self.report = {}
        model = model.to(ctx.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)
        after_step = self.prepare(model, ctx, optimizer)
        true = dataset_labels(ctx.forget_set)
        rng = np.random.default_rng(ctx.seed)
        schedule = self.schedule_for(ctx.num_classes)
        retain = ctx.loader(ctx.retain_set, shuffle=True, batch_size=self.batch_size)
        progress = ctx.progress
        forget_losses, retain_losses, mixed_losses, kept_true = [], [], [], []
        for epoch in range(self.epochs):
            drawn = self.draw_labels(true, ctx.num_classes, rng)
            kept_true.append(int(np.sum(drawn == true)))
            relabelled = Relabelled(ctx.forget_set, drawn)
            desc = f"{self.name} epoch {epoch + 1}/{self.epochs}"
            if schedule == "mixed":
                both = ctx.loader(ConcatDataset([relabelled, ctx.retain_set]), shuffle=True,
                                  batch_size=self.batch_size)
                mixed_losses += train_epochs(model, both, optimizer, 1, ctx.device, desc=desc, progress=progress,
                                             autocast=ctx.autocast, after_step=after_step)
                continue
            forget = ctx.loader(relabelled, shuffle=True, batch_size=self.batch_size)
            forget_losses += train_epochs(model, forget, optimizer, 1, ctx.device, desc=f"{desc} forget",
                                          progress=progress, autocast=ctx.autocast, after_step=after_step)
            retain_losses += train_epochs(model, retain, optimizer, 1, ctx.device, desc=f"{desc} retain",
                                          progress=progress, autocast=ctx.autocast, after_step=after_step)
        self.report = {**self.report, "epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size,
                       "labels": self.labels, "schedule": schedule, "labels_kept_true_per_epoch": kept_true,
                       "forget_samples": len(ctx.forget_set), "retain_samples": len(ctx.retain_set),
                       "forget_losses": forget_losses, "retain_losses": retain_losses,
                       "mixed_losses": mixed_losses}
        return model.eval()
