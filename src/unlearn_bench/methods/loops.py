"""Pieces the training-based methods share: seeding, small dataset wrappers, one training loop."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

LossFn = Callable[[nn.Module, Sequence[torch.Tensor]], torch.Tensor]


def seed_all(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a method gives the same result twice."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


class Tagged(Dataset):
    """`dataset` yielding (x, y, tag): Bad Teacher tags forget samples 1 and retain samples 0."""

    def __init__(self, dataset: Dataset, tag: int):
        self.dataset, self.tag = dataset, tag

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        x, y = self.dataset[i][:2]
        return x, y, self.tag


def cross_entropy_loss(model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    x, y = batch[0], batch[1]
    return F.cross_entropy(model(x), y)


def train_epochs(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device,
    loss_fn: LossFn = cross_entropy_loss,
    desc: str = "train",
    progress: bool = True,
    carry_grads: bool = False,
) -> list[float]:
    """Train `model` in place (train mode) and return the sample-weighted mean loss of each epoch.
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
            loss = loss_fn(model, batch)
            if not keep:
                optimizer.zero_grad(set_to_none=True)
            keep = False
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch[0])
            count += len(batch[0])
        history.append(total / max(count, 1))
    return history
