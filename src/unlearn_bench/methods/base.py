"""The strategy interface: an unlearning method is a class with `unlearn(model, ctx) -> model`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from unlearn_bench.data.batches import make_loader
from unlearn_bench.data.forget import ForgetSplit
from unlearn_bench.importance import ImportanceStore
from unlearn_bench.methods.context import ENTRY_OF, GOLD_MESSAGE, Withheld, withheld_fields
from unlearn_bench.methods.loops import progress_enabled
from unlearn_bench.utils.errors import UnlearnBenchError
from unlearn_bench.utils.precision import method_autocast, trainer_setting


@dataclass(repr=False)
class UnlearnContext:
    """What a method may use. Datasets yield (normalised image, label) without augmentation.

    The pipeline builds one with every piece of data, then hands each method `for_method(method)`: a
    copy holding only the data its `data_used` declares (methods/context.py maps entries to
    attributes; reading another raises UndeclaredDataError) that records what the method read.
    The gold model is in no context. `task`, `forget_classes` and `forget_labels` describe the forget
    request (not its samples): the labels the forget samples carry for class and sub-class forgetting
    (the superclass of a forgotten sub-class), none for random forgetting."""

    original: nn.Module
    forget_set: Dataset
    retain_set: Dataset
    train_set: Dataset  # the full training set D in the protocol's []_D loader order
    split: ForgetSplit
    num_classes: int
    device: torch.device
    seed: int
    build_model: Callable[[], nn.Module]
    importance_store: ImportanceStore
    importance_material: dict
    retain_train_set: Dataset | None = None  # with training augmentation
    forget_train_set: Dataset | None = None  # the forget samples with training augmentation
    val_set: Dataset | None = None  # validation split without the forget samples
    recipe: object = None  # the training Recipe of the original model
    retain_targets: np.ndarray | None = None
    batch_size: int = 64
    num_workers: int = 0
    trainer_cfg: object = None
    task: str = ""
    forget_classes: tuple[int, ...] = ()
    forget_labels: tuple[int, ...] = ()
    # services: the context of a part of the request (forget_idx, retain_idx), and the memorization
    # score of every training sample (models, seed); set by the pipeline
    refine: Callable[..., UnlearnContext] | None = None
    memorization: Callable[[int, int], np.ndarray] | None = None
    method_name: str | None = None  # set by for_method: whose context this is
    reads: set[str] = field(default_factory=set)  # the data attributes the method read

    def for_method(self, method: UnlearningMethod) -> UnlearnContext:
        """A copy holding only the data `method.data_used` declares, with an empty read record."""
        return replace(self, **withheld_fields(method.name, tuple(method.data_used)),
                       method_name=method.name, reads=set())

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if name in ENTRY_OF:
            if isinstance(value, Withheld):
                raise value.error()
            object.__getattribute__(self, "reads").add(name)
        return value

    def __getattr__(self, name: str):
        if name in ("gold", "gold_info", "gold_model"):
            raise UnlearnBenchError(GOLD_MESSAGE.format(name=name))
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"UnlearnContext(method={self.method_name}, task={self.task}, read={sorted(self.reads)})"

    def data_read(self) -> list[str]:
        """The data_used entries whose attributes the method read, e.g. ["forget", "train_importance"]."""
        return sorted({ENTRY_OF[attr] for attr in self.reads})

    @property
    def progress(self) -> bool:
        """Whether a method draws progress bars (`trainer.enable_progress_bar`, default on)."""
        return progress_enabled(self.trainer_cfg)

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
