"""PinsFaceRecognition (105 people) as an image folder, with a seeded stratified train/test split.

The Kaggle archive (hereisburak/pins-face-recognition) unpacks to
`105_classes_pins_dataset/pins_<Name>/*.jpg`. The official code has no test split (it tests on the
training images); here each person's images are split test_fraction / rest with a fixed seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from unlearn_bench.data.base import DatasetBundle, ImageSplit
from unlearn_bench.errors import UnlearnBenchError

PINS_FOLDER = "105_classes_pins_dataset"
PINS_URL = "https://www.kaggle.com/datasets/hereisburak/pins-face-recognition"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def load_pins(root: str | Path, test_fraction: float = 0.2, split_seed: int = 0) -> DatasetBundle:
    """Classes sorted by folder name as torchvision's ImageFolder does (so ids match the paper's)."""
    if not 0 < test_fraction < 1:
        raise UnlearnBenchError(f"dataset.loader.test_fraction must lie in (0, 1), got {test_fraction}.")
    folder = find_pins_folder(Path(root))
    class_dirs = sorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")),
                        key=lambda d: d.name)
    rng = np.random.default_rng(split_seed)
    train: tuple[list[str], list[int]] = ([], [])
    test: tuple[list[str], list[int]] = ([], [])
    for label, class_dir in enumerate(class_dirs):
        files = sorted(str(p) for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UnlearnBenchError(f"The Pins class folder {class_dir} holds no image.")
        order = rng.permutation(len(files))
        n_test = min(max(round(test_fraction * len(files)), 1), len(files) - 1)
        for split, part in ((test, order[:n_test]), (train, order[n_test:])):
            for i in sorted(part):
                split[0].append(files[i])
                split[1].append(label)
    return DatasetBundle(
        name="pins",
        train=ImageSplit(train[0], torch.tensor(train[1], dtype=torch.long)),
        test=ImageSplit(test[0], torch.tensor(test[1], dtype=torch.long)),
        classes=[d.name.removeprefix("pins_") for d in class_dirs],
        source=str(folder),
        extra={"test_fraction": test_fraction, "split_seed": split_seed},
    )


def find_pins_folder(root: Path) -> Path:
    """root/105_classes_pins_dataset, or root itself when it holds the per-person folders."""
    for candidate in (root / PINS_FOLDER, root):
        if candidate.is_dir() and any(d.is_dir() and d.name.startswith("pins_") for d in candidate.iterdir()):
            return candidate
    raise UnlearnBenchError(
        f"No PinsFaceRecognition folders (pins_<Name>/) found in {root} or {root / PINS_FOLDER}: "
        f"download the archive from {PINS_URL}, unpack it into {root}, or set dataset.root=PATH."
    )
