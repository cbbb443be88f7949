"""Any map-style torch Dataset of (image, label) as a benchmark dataset, read once into memory."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from unlearn_bench.data.base import DatasetBundle, ImageSplit
from unlearn_bench.utils.errors import UnlearnBenchError


def to_uint8_chw(image) -> torch.Tensor:
    """A PIL image, an H×W(×C) uint8 array, or a C×H×W tensor (uint8, or float in [0, 1]) as uint8 C×H×W."""
    if isinstance(image, Image.Image):
        array = np.asarray(image.convert("L" if image.mode in ("1", "L", "I", "F") else "RGB"))
        tensor = torch.from_numpy(array.copy())
        return tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()
    tensor = torch.as_tensor(np.asarray(image)) if not isinstance(image, torch.Tensor) else image
    if tensor.ndim == 2:
        tensor = tensor[None]
    elif tensor.ndim == 3 and not isinstance(image, torch.Tensor):
        tensor = tensor.permute(2, 0, 1)  # arrays are H×W×C
    if tensor.ndim != 3:
        raise UnlearnBenchError(f"A dataset image has shape {tuple(tensor.shape)}; expected C×H×W or H×W×C.")
    if tensor.is_floating_point():
        tensor = (tensor.clamp(0, 1) * 255).round()
    return tensor.to(torch.uint8).contiguous()


def _read(dataset: Dataset, which: str) -> ImageSplit:
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise UnlearnBenchError(f"dataset.loader.{which} is not a map-style Dataset (it needs __len__ and __getitem__).")
    images, labels = [], []
    for i in tqdm(range(len(dataset)), desc=f"reading {which} set", leave=False):
        image, label = dataset[i][:2]
        images.append(to_uint8_chw(image))
        labels.append(int(label))
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) != 1:
        raise UnlearnBenchError(
            f"The {which} images have several shapes {sorted(shapes)[:3]}; resize them in the dataset's transform."
        )
    return ImageSplit(torch.stack(images), torch.tensor(labels, dtype=torch.long))


def load_torch_dataset(train: Dataset, test: Dataset, name: str = "torch",
                       classes: list[str] | None = None) -> DatasetBundle:
    """The bundle of two map-style datasets (labels 0..K-1); `classes` names them (default "0".."K-1")."""
    train_split, test_split = _read(train, "train"), _read(test, "test")
    num_classes = int(max(train_split.targets.max(), test_split.targets.max())) + 1
    if classes is None:
        classes = list(getattr(train, "classes", None) or [str(k) for k in range(num_classes)])
    if len(classes) < num_classes:
        raise UnlearnBenchError(f"dataset.loader.classes names {len(classes)} classes but labels go up to {num_classes - 1}.")
    return DatasetBundle(name=name, train=train_split, test=test_split, classes=[str(c) for c in classes],
                         source=f"{type(train).__module__}.{type(train).__name__}")
