"""The LightningModule that trains every classifier, and the function that runs it."""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset


@dataclass
class Recipe:
    """How a classifier is trained (from `cfg.training`, per dataset×model in `conf/dataset_model/`)."""

    optimizer: Callable[..., torch.optim.Optimizer]
    epochs: int = 30
    batch_size: int = 64
    eval_batch_size: int = 256
    milestones: Sequence[int] = field(default_factory=list)
    gamma: float = 0.2
    warmup_epochs: int = 1
    num_workers: int = 0

    def with_lr(self, lr: float) -> Recipe:
        return replace(self, optimizer=_with_lr(self.optimizer, lr))


def _with_lr(factory, lr: float):
    return functools.partial(factory, lr=lr)


def lr_factor(step: int, steps_per_epoch: int, warmup_epochs: int, milestones: Sequence[int],
              gamma: float) -> float:
    """Linear warm-up over the first epochs, then MultiStepLR by epoch (the paper's schedule)."""
    warmup_steps = warmup_epochs * steps_per_epoch
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    epoch = step // max(steps_per_epoch, 1)
    return gamma ** sum(epoch >= m for m in milestones)


class ClassifierModule(L.LightningModule):
    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        milestones: Sequence[int] = (),
        gamma: float = 0.2,
        warmup_epochs: int = 0,
    ):
        super().__init__()
        self.net = net
        self.optimizer_factory = optimizer
        self.milestones = list(milestones)
        self.gamma = gamma
        self.warmup_epochs = warmup_epochs

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        correct = (self(x).argmax(1) == y).float().sum()
        self.log("val_acc", correct / len(y) * 100, prog_bar=True, reduce_fx="mean",
                 batch_size=len(y))

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        steps_per_epoch = max(self.trainer.estimated_stepping_batches // max(self.trainer.max_epochs, 1), 1)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: lr_factor(step, steps_per_epoch, self.warmup_epochs, self.milestones, self.gamma),
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class KeepBestState(L.Callback):
    """Keeps, in memory, the weights of the epoch with the best validation accuracy."""

    def __init__(self):
        self.best_acc = -1.0
        self.best_epoch = -1
        self.best_state: dict | None = None

    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        acc = float(trainer.callback_metrics["val_acc"])
        if acc > self.best_acc:
            self.best_acc, self.best_epoch = acc, trainer.current_epoch
            self.best_state = copy.deepcopy(pl_module.net.state_dict())


def fit_classifier(
    net: nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    recipe,
    trainer_cfg,
    seed: int,
) -> dict:
    """Train `net` in place with `recipe`, select the best epoch on validation; return training facts."""
    L.seed_everything(seed, workers=True, verbose=False)
    module = ClassifierModule(
        net,
        optimizer=recipe.optimizer,
        milestones=recipe.milestones,
        gamma=recipe.gamma,
        warmup_epochs=recipe.warmup_epochs,
    )
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=recipe.batch_size, shuffle=True,
                              num_workers=recipe.num_workers, generator=generator)
    val_loader = DataLoader(val_set, batch_size=recipe.eval_batch_size, num_workers=recipe.num_workers)
    best = KeepBestState()
    trainer = L.Trainer(
        accelerator=trainer_cfg.accelerator,
        devices=1,
        precision=trainer_cfg.precision,
        max_epochs=recipe.epochs,
        callbacks=[best],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=trainer_cfg.enable_progress_bar,
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(module, train_loader, val_loader)
    train_s = time.perf_counter() - start
    if best.best_state is not None:
        net.load_state_dict(best.best_state)
    net.cpu().eval()
    return {"train_s": train_s, "best_val_acc": best.best_acc, "best_epoch": best.best_epoch,
            "epochs": recipe.epochs}
