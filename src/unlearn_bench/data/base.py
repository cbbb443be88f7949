"""In-memory image splits, their transforms and the dataset bundle every loader returns."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from unlearn_bench.data.batches import TensorSource
from unlearn_bench.data.transforms import TransformSpec


@dataclass
class ImageSplit:
    """One split: images as a uint8 N×C×H×W tensor or as image file paths, plus labels."""

    images: torch.Tensor | Sequence[str]
    targets: torch.Tensor
    fine_targets: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, idx: Sequence[int] | np.ndarray | torch.Tensor) -> ImageSplit:
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        if isinstance(self.images, torch.Tensor):
            images = self.images[idx]
        else:
            images = [self.images[i] for i in idx.tolist()]
        fine = None if self.fine_targets is None else self.fine_targets[idx]
        return ImageSplit(images, self.targets[idx], fine)

    def image(self, i: int, size: int | None = None) -> torch.Tensor:
        if isinstance(self.images, torch.Tensor):
            return self.images[i]
        with Image.open(self.images[i]) as img:
            img = img.convert("RGB")
            if size is not None:
                img = img.resize((size, size), Image.BILINEAR)
            array = np.asarray(img, dtype=np.uint8).copy()
        return torch.from_numpy(array).permute(2, 0, 1)


@dataclass
class DatasetBundle:
    """Everything a loader knows about a dataset, before subsets and splits."""

    name: str
    train: ImageSplit
    test: ImageSplit
    classes: list[str]
    fine_classes: list[str] | None = None
    fine_to_coarse: list[int] | None = None
    source: str = ""
    extra: dict = field(default_factory=dict)
    # extra names accepted for classes, e.g. the paper's "vehicle2" for "vehicles_2"
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def has_superclasses(self) -> bool:
        return self.fine_classes is not None and self.fine_to_coarse is not None

    def fingerprint(self) -> str:
        """Content hash of labels and images (pixels, or file bytes): identifies the data for the caches."""
        h = hashlib.sha256(self.name.encode())
        for split in (self.train, self.test):
            h.update(split.targets.numpy().tobytes())
            if isinstance(split.images, torch.Tensor):
                h.update(split.images.contiguous().numpy().tobytes())
            else:  # file-backed: the files' bytes, not their names
                for path in split.images:
                    with open(path, "rb") as f:
                        h.update(hashlib.sha256(f.read()).digest())
        return h.hexdigest()[:16]


class ImageDataset(Dataset):
    """A split with a transform: yields (float image, label).

    `spec` (with `augment`: whether its augmentations apply) describes the transform, so that a
    tensor-backed split can be batched on the device (unlearn_bench.data.batches); `transform`
    is its per-sample form (built from `spec` when not given)."""

    def __init__(
        self,
        split: ImageSplit,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        load_size: int | None = None,
        spec: TransformSpec | None = None,
        augment: bool = False,
    ):
        if transform is None:
            if spec is None:
                raise ValueError("ImageDataset needs a transform or a spec.")
            transform = spec.per_sample() if augment else replace(spec, augmentations=()).per_sample()
        self.split = split
        self.transform = transform
        self.load_size = load_size
        self.spec, self.augment = spec, augment

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int):
        return self.transform(self.split.image(i, self.load_size)), int(self.split.targets[i])

    def tensor_source(self) -> TensorSource | None:
        if self.spec is None or not isinstance(self.split.images, torch.Tensor):
            return None
        return TensorSource(self.split.images, [self.split.targets], self.spec, self.augment)
