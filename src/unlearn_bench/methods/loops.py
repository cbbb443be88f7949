"""Pieces the training-based methods share: seeding, small dataset wrappers, the training loops
(one loader, or retain batches paired with cycled forget batches)."""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from unlearn_bench.data.batches import TensorSource, tensor_source

LossFn = Callable[[nn.Module, Sequence[torch.Tensor]], torch.Tensor]
PairLossFn = Callable[[nn.Module, Sequence[torch.Tensor], Sequence[torch.Tensor]], torch.Tensor]
Autocast = Callable[[], contextlib.AbstractContextManager]


def seed_all(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a method gives the same result twice."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def frozen(model: nn.Module, device: torch.device) -> nn.Module:
    """A teacher: eval mode, no gradients, on `device`."""
    model = model.to(device).eval()
    model.requires_grad_(False)
    return model


def progress_enabled(trainer_cfg) -> bool:
    """Whether to draw progress bars: follows `trainer.enable_progress_bar` (default on)."""
    if trainer_cfg is None:
        return True
    if hasattr(trainer_cfg, "get"):  # a DictConfig or a dict
        value = trainer_cfg.get("enable_progress_bar", True)
    else:
        value = getattr(trainer_cfg, "enable_progress_bar", True)
    return True if value is None else bool(value)


def dataset_labels(dataset: Dataset, fine: bool = False) -> np.ndarray:
    """Labels of a dataset without loading its images when it is an ImageDataset (fine: sub-class labels)."""
    split = getattr(dataset, "split", None)
    if split is not None:
        labels = split.fine_targets if fine else split.targets
        if labels is None:
            raise ValueError("This dataset has no fine (sub-class) labels.")
        return labels.numpy()
    if fine:
        raise ValueError("Fine labels need an ImageDataset.")
    return np.asarray([int(dataset[i][1]) for i in range(len(dataset))])


def random_wrong_labels(labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """For each label, a class drawn uniformly from the other num_classes - 1."""
    shift = rng.integers(1, num_classes, size=len(labels))
    return (labels + shift) % num_classes


class Relabelled(Dataset):
    """`dataset` with its labels replaced by `labels`."""

    def __init__(self, dataset: Dataset, labels: Sequence[int] | np.ndarray):
        if len(labels) != len(dataset):
            raise ValueError(f"{len(labels)} labels for {len(dataset)} samples.")
        self.dataset, self.labels = dataset, [int(y) for y in labels]

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        return self.dataset[i][0], self.labels[i]

    def tensor_source(self) -> TensorSource | None:
        inner = tensor_source(self.dataset)
        if inner is None:
            return None
        return replace(inner, columns=[torch.tensor(self.labels, dtype=torch.long), *inner.columns[1:]])


class Tagged(Dataset):
    """`dataset` yielding (x, y, tag): Bad Teacher tags forget samples 1 and retain samples 0."""

    def __init__(self, dataset: Dataset, tag: int):
        self.dataset, self.tag = dataset, tag

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        x, y = self.dataset[i][:2]
        return x, y, self.tag

    def tensor_source(self) -> TensorSource | None:
        inner = tensor_source(self.dataset)
        if inner is None:
            return None
        return replace(inner, columns=[inner.columns[0], torch.full((len(self),), self.tag, dtype=torch.long)])


def cross_entropy_loss(model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    x, y = batch[0], batch[1]
    return F.cross_entropy(model(x), y)


def _step(model: nn.Module, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
          after_step: Callable[[], None] | None, zero_grad: bool = True) -> None:
    if zero_grad:
        optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if after_step is not None:
        after_step()


def train_epochs(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device,
    loss_fn: LossFn = cross_entropy_loss,
    desc: str = "train",
    progress: bool = True,
    autocast: Autocast = contextlib.nullcontext,
    after_step: Callable[[], None] | None = None,
    carry_grads: bool = False,
) -> list[float]:
    """Train `model` in place (train mode) and return the sample-weighted mean loss of each epoch.
    `autocast` wraps each loss computation (the forward passes); `after_step` runs after every update.
    carry_grads: the first step adds its gradients to those already on the model instead of
    zeroing them first (the official UNSIR leaves its noise loss's gradients there)."""
    model.to(device).train()
    history = []
    keep = carry_grads
    for epoch in range(epochs):
        total, count = 0.0, 0
        bar = tqdm(loader, desc=f"{desc} {epoch + 1}/{epochs}", leave=False, disable=not progress)
        for batch in bar:
            batch = [t.to(device) for t in batch]
            with autocast():
                loss = loss_fn(model, batch)
            _step(model, loss, optimizer, after_step, zero_grad=not keep)
            keep = False
            total += float(loss.detach()) * len(batch[0])
            count += len(batch[0])
        history.append(total / max(count, 1))
    return history


def paired_epochs(
    model: nn.Module,
    retain_loader: Iterable,
    forget_loader: Iterable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device,
    loss_fn: PairLossFn,
    desc: str = "train",
    progress: bool = True,
    autocast: Autocast = contextlib.nullcontext,
    train_mode: bool = True,
) -> list[float]:
    """Like `train_epochs`, but each step sees one retain batch and the next forget batch, the forget
    loader cycled so that an epoch is one pass over the retain set (NegGrad+'s loop). As
    `itertools.cycle` does, the forget batches of an epoch's first pass are replayed in the same order
    until the retain set is done; each epoch starts a new pass. train_mode=False runs the updates with
    the model in eval mode (BatchNorm normalises with, and keeps, its running statistics)."""
    model.to(device).train(train_mode)
    history = []
    for epoch in range(epochs):
        total, count = 0.0, 0
        pairs = zip(retain_loader, itertools.cycle(forget_loader))
        bar = tqdm(pairs, desc=f"{desc} {epoch + 1}/{epochs}", leave=False, disable=not progress,
                   total=len(retain_loader) if hasattr(retain_loader, "__len__") else None)
        for retain, forget in bar:
            retain, forget = [t.to(device) for t in retain], [t.to(device) for t in forget]
            with autocast():
                loss = loss_fn(model, retain, forget)
            _step(model, loss, optimizer, None)
            total += float(loss.detach()) * len(retain[0])
            count += len(retain[0])
        history.append(total / max(count, 1))
    return history
