"""The LightningModule that trains every classifier, and the function that runs it."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from unlearn_bench.data.batches import make_loader, sample_images
from unlearn_bench.training.callbacks import EpochProgress, KeepBestState
from unlearn_bench.training.checkpoints import checkpoint_callbacks, load_best, resume_path
from unlearn_bench.training.trainer import build_trainer
from unlearn_bench.utils.distributed import end_spawned_process_group
from unlearn_bench.utils.errors import UnlearnBenchError
from unlearn_bench.utils.precision import trainer_setting

SCHEDULES = ("multistep", "onecycle")
# training images a network that derives something from its data (a whitening stem) sees before training
INIT_IMAGES = 5000


@dataclass
class Recipe:
    """How a classifier is trained (from `cfg.training`, per dataset×model in `conf/dataset_model/`).

    schedule "multistep": linear warm-up over `warmup_epochs`, then ×gamma at each milestone (the
    paper's); "onecycle": linear rise to the optimizer's lr over `onecycle_peak` of the steps, then
    linear decay to zero (the fast CIFAR recipes'). An optimizer argument set to null is not passed,
    so a recipe can swap SGD for an optimizer without `momentum` (conf/model_training/vit_tiny.yaml)."""

    optimizer: Callable[..., torch.optim.Optimizer]
    epochs: int = 30
    batch_size: int = 64
    eval_batch_size: int = 256
    milestones: Sequence[int] = field(default_factory=list)
    gamma: float = 0.2
    warmup_epochs: int = 1
    num_workers: int = 0
    schedule: str = "multistep"
    onecycle_peak: float = 0.25
    label_smoothing: float = 0.0

    def __post_init__(self):
        if isinstance(self.optimizer, functools.partial) and None in self.optimizer.keywords.values():
            kept = {k: v for k, v in self.optimizer.keywords.items() if v is not None}
            self.optimizer = functools.partial(self.optimizer.func, *self.optimizer.args, **kept)
        if self.schedule not in SCHEDULES:
            raise UnlearnBenchError(f"training.schedule={self.schedule!r} is unknown; use one of {', '.join(SCHEDULES)}.")
        if not 0 < self.onecycle_peak < 1:
            raise UnlearnBenchError(f"training.onecycle_peak must lie in (0, 1), got {self.onecycle_peak}.")

    def with_lr(self, lr: float) -> Recipe:
        return replace(self, optimizer=_with_lr(self.optimizer, lr))

    def lr_lambda(self, steps_per_epoch: int) -> Callable[[int], float]:
        if self.schedule == "onecycle":
            total = max(self.epochs * steps_per_epoch, 1)
            return lambda step: onecycle_factor(step, total, self.onecycle_peak)
        return lambda step: lr_factor(step, steps_per_epoch, self.warmup_epochs, self.milestones, self.gamma)


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


def onecycle_factor(step: int, total_steps: int, peak: float) -> float:
    """Triangular one-cycle: (step+1)/peak_steps up to 1 at peak·total, then linearly down to 0 at the end."""
    peak_steps = max(int(round(peak * total_steps)), 1)
    if step < peak_steps:
        return (step + 1) / peak_steps
    return max(total_steps - step, 0) / max(total_steps - peak_steps, 1)


class ClassifierModule(L.LightningModule):
    """Trains `net` on `train_set`, validates on `val_set`; builds its own batches on its device
    (and, under DDP, its rank's share) through unlearn_bench.data.batches."""

    def __init__(self, net: nn.Module, recipe: Recipe, train_set: Dataset | None = None,
                 val_set: Dataset | None = None, seed: int = 0, channels_last: bool = False,
                 compile_net: bool = False):
        super().__init__()
        self.net = net
        self.recipe = recipe
        self.train_set, self.val_set, self.seed = train_set, val_set, seed
        self.channels_last = channels_last
        self.forward_net = torch.compile(net) if compile_net else net
        self._train_loader = None
        self._resumed_rng: dict | None = None

    def forward(self, x):
        return self.forward_net(x)

    def _loader(self, dataset: Dataset, shuffle: bool, batch_size: int):
        world = self.trainer.world_size
        return make_loader(dataset, self.device, batch_size, shuffle=shuffle, seed=self.seed,
                           num_workers=self.recipe.num_workers, channels_last=self.channels_last,
                           rank=self.global_rank, world_size=world)

    def train_dataloader(self):
        shuffle = not self.trainer.overfit_batches  # overfitting: the same few batches every epoch
        loader = self._loader(self.train_set, shuffle, self.recipe.batch_size)
        if self._resumed_rng is not None:
            restore_loader_rng(loader, self._resumed_rng["loader"])
        self._train_loader = loader
        return loader

    def val_dataloader(self):
        return self._loader(self.val_set, False, self.recipe.eval_batch_size)

    def training_step(self, batch, batch_idx):
        x, y = batch[0], batch[1]
        loss = F.cross_entropy(self(x), y, label_smoothing=self.recipe.label_smoothing)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch[0], batch[1]
        correct = (self(x).argmax(1) == y).float().sum()
        self.log("val_acc", correct / len(y) * 100, prog_bar=True, reduce_fx="mean",
                 batch_size=len(y), sync_dist=self.trainer.world_size > 1)

    def configure_optimizers(self):
        optimizer = self.recipe.optimizer(self.parameters())
        steps_per_epoch = max(self.trainer.estimated_stepping_batches // max(self.trainer.max_epochs, 1), 1)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, self.recipe.lr_lambda(steps_per_epoch))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """What a resumed training needs to continue exactly: the batch order's and augmentations'
        generators, the global RNG, and the epoch's val acc (to report the best epoch)."""
        checkpoint["rng"] = {"loader": loader_rng(self._train_loader), "torch": torch.get_rng_state()}
        val_acc = self.trainer.callback_metrics.get("val_acc")
        checkpoint["val_acc"] = float(val_acc) if val_acc is not None else float("nan")

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._resumed_rng = checkpoint.get("rng")

    def on_train_start(self) -> None:
        if self._resumed_rng is not None:
            torch.set_rng_state(self._resumed_rng["torch"])

    def teardown(self, stage: str) -> None:
        end_spawned_process_group(self.trainer)


def loader_rng(loader) -> dict:
    """The random generators' states of a training loader (TensorBatches or a DataLoader)."""
    if loader is None:
        return {}
    if hasattr(loader, "rng_state"):
        return loader.rng_state()
    generator = getattr(loader, "generator", None)
    return {"order": generator.get_state()} if generator is not None else {}


def restore_loader_rng(loader, state: dict) -> None:
    if hasattr(loader, "set_rng_state"):
        loader.set_rng_state(state)
    elif state.get("order") is not None and getattr(loader, "generator", None) is not None:
        loader.generator.set_state(state["order"])


def fit_classifier(
    net: nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    recipe,
    trainer_cfg,
    seed: int,
    *,
    logger=None,
    checkpoint_dir: str | Path | None = None,
    name: str = "model",
    from_scratch: bool = False,
) -> dict:
    """Train `net` in place with `recipe`, select the best epoch on validation; return training facts.

    `trainer_cfg`: cfg.trainer (any lightning.Trainer argument, and the suite's channels_last,
    compile; see training/trainer.py). `logger`: a Lightning logger for the curves (train loss per
    step and epoch, val_acc per epoch), None for none. `checkpoint_dir`: write last.ckpt every epoch
    and the best epoch there, and resume from an earlier last.ckpt (None: the best epoch is kept in
    memory). `name` labels the progress lines. `from_scratch`: `net` is untrained, so what it derives
    from its data (`init_from_data`, e.g. a whitening stem) is set from the training images first."""
    L.seed_everything(seed, workers=True, verbose=False)
    init_from_data = getattr(net, "init_from_data", None)
    if from_scratch and callable(init_from_data):
        init_from_data(sample_images(train_set, INIT_IMAGES, seed))
    channels_last = bool(trainer_setting(trainer_cfg, "channels_last", False))
    if channels_last:
        net.to(memory_format=torch.channels_last)
    module = ClassifierModule(net, recipe, train_set, val_set, seed, channels_last,
                              bool(trainer_setting(trainer_cfg, "compile", False)))
    if checkpoint_dir is None:
        best, resume = KeepBestState(), None
        callbacks: list[L.Callback] = [EpochProgress(name), best]
    else:
        best, last = checkpoint_callbacks(Path(checkpoint_dir))
        resume = resume_path(Path(checkpoint_dir), name)
        memory = KeepBestState()  # the best epoch when the disk refuses the checkpoints mid-way
        callbacks = [EpochProgress(name), memory, best, last]  # last after best: last.ckpt holds the best so far
    trainer = build_trainer(trainer_cfg, max_epochs=recipe.epochs, callbacks=callbacks,
                            logger=logger if logger is not None else False,
                            enable_checkpointing=checkpoint_dir is not None,
                            default_root_dir=checkpoint_dir, use_distributed_sampler=True)
    start, start_cpu = time.perf_counter(), time.process_time()
    trainer.fit(module, ckpt_path=resume)
    train_s, train_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
    if isinstance(best, KeepBestState):
        best_acc = float(trainer.callback_metrics.get("best_val_acc", best.best_acc))
        best_epoch = int(trainer.callback_metrics.get("best_epoch", best.best_epoch))
    elif best.disk.failed:
        best_acc, best_epoch = memory.best_acc, memory.best_epoch
    else:
        best_acc, best_epoch = load_best(net, best) or (float("nan"), -1)
    net.to(memory_format=torch.contiguous_format).cpu().eval()
    return {"train_s": train_s, "train_cpu_s": train_cpu_s, "best_val_acc": best_acc, "best_epoch": best_epoch,
            "epochs": recipe.epochs, "devices": trainer.world_size, "resumed": resume is not None}
