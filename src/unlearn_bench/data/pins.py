"""PinsFaceRecognition (105 people) as an image folder, with a seeded stratified train/test split.

The Kaggle archive (hereisburak/pins-face-recognition) unpacks to
`105_classes_pins_dataset/pins_<Name>/*.jpg`. The official code has no test split (it tests on the
training images); here each person's images are split test_fraction / rest with a fixed seed.
"""

from __future__ import annotations

from pathlib import Path

import torch

from unlearn_bench.data.base import DatasetBundle, ImageSplit
from unlearn_bench.data.folder import (
    class_folders,
    decode_splits,
    image_files,
    stratified_file_split,
)
from unlearn_bench.utils.errors import UnlearnBenchError

PINS_FOLDER = "105_classes_pins_dataset"
PINS_URL = "https://www.kaggle.com/datasets/hereisburak/pins-face-recognition"


def load_pins(root: str | Path, test_fraction: float = 0.2, split_seed: int = 0, load_size: int | None = None,
              cache_dir: str | Path | None = None) -> DatasetBundle:
    """Classes sorted by folder name as torchvision's ImageFolder does (so ids match the paper's).

    With `load_size` the images are decoded once to uint8 load_size×load_size tensors (cached under
    `cache_dir` by content); without it the splits hold file paths, read per sample.
    """
    folder = find_pins_folder(Path(root))
    class_dirs = class_folders(folder)
    per_class = []
    for class_dir in class_dirs:
        files = image_files(class_dir)
        if not files:
            raise UnlearnBenchError(f"The Pins class folder {class_dir} holds no image.")
        per_class.append(files)
    train, test = stratified_file_split(per_class, test_fraction, split_seed)
    if load_size is not None:
        decoded = decode_splits({"train": train, "test": test}, load_size, 3, cache_dir)
        train_split, test_split = decoded["train"], decoded["test"]
    else:
        train_split, test_split = (ImageSplit([str(p) for p in files], torch.tensor(labels, dtype=torch.long))
                                   for files, labels in (train, test))
    return DatasetBundle(
        name="pins",
        train=train_split,
        test=test_split,
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
