"""The suite's Lightning callbacks for classifier training: the best epoch kept in memory (when no
checkpoints are written) and a per-epoch progress line that shows even with progress bars off."""

from __future__ import annotations

import copy
import logging
import math
import sys
import time

import lightning as L
import torch

log = logging.getLogger("unlearn_bench.training")


class KeepBestState(L.Callback):
    """Keeps, in memory, the weights of the epoch with the best validation accuracy, and puts them
    into the network when fitting ends (so a spawned rank 0 hands the best weights back)."""

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

    def on_fit_end(self, trainer, pl_module):
        if self.best_state is not None:
            pl_module.net.load_state_dict(self.best_state)
        trainer.callback_metrics["best_val_acc"] = torch.tensor(self.best_acc)
        trainer.callback_metrics["best_epoch"] = torch.tensor(self.best_epoch)


def duration(seconds: float) -> str:
    """0.4 s, 12 s, 3.4 min, 1.2 h."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class EpochProgress(L.Callback):
    """One INFO line per epoch: `<name>: epoch i/N · train loss · val acc · time per epoch · ETA`."""

    def __init__(self, name: str):
        self.name = name
        self.loss_sum = torch.zeros(())
        self.batches = 0

    def on_train_start(self, trainer, pl_module):
        self.start, self.first_epoch = time.perf_counter(), trainer.current_epoch
        if trainer.is_global_zero and trainer.current_epoch > 0:
            _info("%s: resumed from %s at epoch %d/%d.", self.name, trainer.ckpt_path,
                  trainer.current_epoch + 1, trainer.max_epochs)

    def on_train_epoch_start(self, trainer, pl_module):
        self.loss_sum, self.batches = torch.zeros((), device=pl_module.device), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None:
            self.loss_sum += loss.detach().float()
            self.batches += 1

    def on_train_epoch_end(self, trainer, pl_module):
        if not trainer.is_global_zero:
            return
        epoch, total = trainer.current_epoch + 1, trainer.max_epochs
        per_epoch = (time.perf_counter() - self.start) / max(epoch - self.first_epoch, 1)
        loss = float(self.loss_sum) / self.batches if self.batches else math.nan
        val = trainer.callback_metrics.get("val_acc")
        val_text = f"val acc {float(val):.2f}%" if val is not None else "no validation"
        _info("%s: epoch %d/%d · train loss %.4f · %s · %s/epoch · ETA %s", self.name, epoch, total, loss,
              val_text, duration(per_epoch), duration(per_epoch * (total - epoch)))


def _info(message: str, *args) -> None:
    """An INFO line; on stderr in a spawned DDP rank, where the parent's logging setup does not exist."""
    if log.hasHandlers():
        log.info(message, *args)
    else:
        print(message % args, file=sys.stderr, flush=True)
