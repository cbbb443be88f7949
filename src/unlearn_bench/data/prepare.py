"""From a loaded bundle to the splits an experiment uses: seeded subsets and a validation split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from unlearn_bench.data.base import DatasetBundle, ImageSplit
from unlearn_bench.utils.errors import UnlearnBenchError


@dataclass
class PreparedData:
    bundle: DatasetBundle
    train: ImageSplit
    val: ImageSplit
    test: ImageSplit

    @property
    def num_classes(self) -> int:
        return self.bundle.num_classes


def stratified_subset(targets: np.ndarray, size: int | float | None, seed: int) -> np.ndarray:
    """Indices of a seeded stratified subset (an int count or a float fraction); all when None."""
    n = len(targets)
    if size is None or size == n or size == 1.0:
        return np.arange(n)
    count = int(round(size * n)) if isinstance(size, float) and size < 1 else int(size)
    if not 0 < count <= n:
        raise UnlearnBenchError(f"A subset of {size} samples is impossible: the split has {n}.")
    if count == n:
        return np.arange(n)
    keep, _ = train_test_split(
        np.arange(n), train_size=count, stratify=_stratify(targets, count), random_state=seed
    )
    return np.sort(keep)


def _stratify(targets: np.ndarray, count: int) -> np.ndarray | None:
    classes, counts = np.unique(targets, return_counts=True)
    if count < len(classes) or counts.min() < 2 or len(targets) - count < len(classes):
        return None
    return targets


def prepare(
    bundle: DatasetBundle,
    train_subset: int | float | None = None,
    test_subset: int | float | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> PreparedData:
    """Subset train and test (seeded, stratified), then carve a stratified validation split."""
    train = bundle.train.subset(stratified_subset(bundle.train.targets.numpy(), train_subset, seed))
    test = bundle.test.subset(stratified_subset(bundle.test.targets.numpy(), test_subset, seed))
    if not 0 < val_fraction < 1:
        raise UnlearnBenchError(f"dataset.val_fraction must lie in (0, 1), got {val_fraction}.")
    targets = train.targets.numpy()
    n_val = max(int(round(val_fraction * len(targets))), 1)
    fit_idx, val_idx = train_test_split(
        np.arange(len(targets)),
        test_size=n_val,
        stratify=_stratify(targets, n_val),
        random_state=seed,
    )
    return PreparedData(bundle, train.subset(np.sort(fit_idx)), train.subset(np.sort(val_idx)), test)
