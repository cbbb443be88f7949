"""The strategy interface: an unlearning method is a class with `unlearn(model, ctx) -> model`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from unlearn_bench.data.batches import make_loader
from unlearn_bench.data.forget import ForgetSplit
from unlearn_bench.importance import ImportanceStore
from unlearn_bench.precision import method_autocast, trainer_setting


@dataclass
class UnlearnContext:
    """What a method may use. Datasets yield (normalised image, label) without augmentation."""

    original: nn.Module
    forget_set: Dataset
    retain_set: Dataset
    train_set: Dataset  # the full training set D, sorted by class (the official []_D loader order)
    split: ForgetSplit
    num_classes: int
    device: torch.device
    seed: int
    build_model: Callable[[], nn.Module]
    importance_store: ImportanceStore
    importance_material: dict
    retain_train_set: Dataset | None = None  # with training augmentation
    val_set: Dataset | None = None  # validation split without the forget samples
    recipe: object = None  # the training Recipe of the original model
    gold: nn.Module | None = None
    gold_info: dict = field(default_factory=dict)
    retain_targets: np.ndarray | None = None
    batch_size: int = 64
    num_workers: int = 0
    trainer_cfg: object = None

    def autocast(self):
        """Run a method's forward passes in `trainer.precision` (fp32 unless asked)."""
        return method_autocast(self.trainer_cfg, self.device)

    def loader(self, dataset: Dataset, shuffle: bool = False, batch_size: int | None = None):
        """Batches of `dataset`: built on `device` when it is in memory (unlearn_bench.data.batches),
        else a DataLoader; either way `for x, y in loader`, reproducible for the run's seed."""
        return make_loader(dataset, self.device, batch_size or self.batch_size, shuffle=shuffle, seed=self.seed,
                           num_workers=self.num_workers,
                           channels_last=bool(trainer_setting(self.trainer_cfg, "channels_last", False)))


class UnlearningMethod:
    """Base class of every method. Subclasses set `data_used` and implement `unlearn`.

    `data_used` names the data the method reads: "forget", "retain", and for SSD
    "train_importance" (the stored importances of the full training set).
    `tasks` lists the forgetting tasks it is defined for.
    `report` collects facts the results record keeps (importance time, parameters changed, ...).
    """

    name: ClassVar[str] = "method"
    data_used: ClassVar[tuple[str, ...]] = ()
    tasks: ClassVar[tuple[str, ...]] = ("class", "subclass", "random")

    def __init__(self) -> None:
        self.report: dict = {}

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        raise NotImplementedError
