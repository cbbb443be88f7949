"""scikit-learn's bundled handwritten digits (8×8, 10 classes): real data with no download."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits as sk_load_digits
from sklearn.model_selection import train_test_split

from unlearn_bench.data.base import DatasetBundle, ImageSplit


def load_digits(test_fraction: float = 0.2, split_seed: int = 0) -> DatasetBundle:
    """1,797 images scaled from 0..16 to 0..255; a fixed stratified train/test split."""
    digits = sk_load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    targets = digits.target.astype(np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(targets)), test_size=test_fraction, stratify=targets, random_state=split_seed
    )
    images_t, targets_t = torch.from_numpy(images), torch.from_numpy(targets)

    def split(idx: np.ndarray) -> ImageSplit:
        idx = np.sort(idx)
        return ImageSplit(images_t[idx], targets_t[idx])

    return DatasetBundle(
        name="digits",
        train=split(train_idx),
        test=split(test_idx),
        classes=[str(d) for d in range(10)],
        source="sklearn.datasets.load_digits",
    )
