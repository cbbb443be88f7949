"""Transforms from uint8 images to normalised float tensors: per sample (torchvision v2) or per batch.

`TransformSpec` holds what a dataset's transform is made of (normalisation, model input size, the
configured v2 augmentations). `per_sample()` gives the v2 pipeline a DataLoader applies image by
image; `batched()` gives the same distributions applied to a whole uint8 batch on its device:

- RandomCrop(size, padding): zero padding, offsets uniform in 0..H+2p-size per image;
- RandomHorizontalFlip(p): each image flipped with probability p;
- RandomRotation(degrees): an angle uniform in [min, max] per image, nearest neighbour, zero fill,
  about the centre, same output size.

Any other augmentation (or option) has no batched form: `batched()` returns None and the data
goes through the per-sample path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torchvision.transforms import InterpolationMode, v2


def build_transform(
    mean: Sequence[float],
    std: Sequence[float],
    input_size: int | None = None,
    augmentations: Sequence[torch.nn.Module] = (),
) -> v2.Compose:
    """Augment (training only) on uint8, scale to [0, 1], resize to the model's input, normalise."""
    steps: list[torch.nn.Module] = list(augmentations)
    steps.append(v2.ToDtype(torch.float32, scale=True))
    if input_size is not None:
        steps.append(v2.Resize((input_size, input_size), antialias=True))
    steps.append(v2.Normalize(list(mean), list(std)))
    return v2.Compose(steps)


@dataclass(frozen=True)
class TransformSpec:
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: int | None = None
    augmentations: tuple[torch.nn.Module, ...] = field(default=())

    def per_sample(self) -> v2.Compose:
        return build_transform(self.mean, self.std, self.input_size, self.augmentations)

    def batched(self, channels_last: bool = False) -> BatchTransform | None:
        steps = []
        for aug in self.augmentations:
            step = batched_augmentation(aug)
            if step is None:
                return None
            steps.append(step)
        return BatchTransform(self.mean, self.std, self.input_size, steps, channels_last)


def _zero_fill(fill) -> bool:
    if isinstance(fill, dict):
        return all(_zero_fill(v) for v in fill.values())
    return fill is None or fill == 0 or (isinstance(fill, (list, tuple)) and all(f == 0 for f in fill))


def batched_augmentation(aug: torch.nn.Module):
    """The batched form of one v2 augmentation, or None when it has none."""
    if isinstance(aug, v2.RandomCrop):
        padding = aug.padding
        pads = [padding] * 4 if isinstance(padding, int) else list(padding or [0, 0, 0, 0])
        if len(set(pads)) != 1 or aug.padding_mode != "constant" or not _zero_fill(aug.fill) or aug.pad_if_needed:
            return None
        return RandomCropStep(tuple(aug.size), pads[0])
    if isinstance(aug, v2.RandomHorizontalFlip):
        return FlipStep(float(aug.p))
    if isinstance(aug, v2.RandomRotation):
        if aug.expand or aug.center is not None or not _zero_fill(aug.fill) \
                or InterpolationMode(aug.interpolation) != InterpolationMode.NEAREST:
            return None
        low, high = (float(d) for d in aug.degrees)
        return RotationStep(low, high)
    return None


@dataclass(frozen=True)
class RandomCropStep:
    size: tuple[int, int]
    padding: int

    def offsets(self, n: int, height: int, width: int, generator: torch.Generator, device) -> tuple:
        p, (h, w) = self.padding, self.size
        oy = torch.randint(0, height + 2 * p - h + 1, (n,), generator=generator, device=device)
        ox = torch.randint(0, width + 2 * p - w + 1, (n,), generator=generator, device=device)
        return oy, ox

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, _, height, width = x.shape
        oy, ox = self.offsets(n, height, width, generator, x.device)
        return crop_at(x, oy, ox, self.size, self.padding)


def crop_at(x: torch.Tensor, oy: torch.Tensor, ox: torch.Tensor, size: tuple[int, int], padding: int) -> torch.Tensor:
    """Each image zero-padded by `padding`, then cropped to `size` at its own top-left (oy, ox)."""
    p = padding
    padded = F.pad(x, (p, p, p, p)) if p else x
    rows = (oy[:, None] + torch.arange(size[0], device=x.device))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(size[1], device=x.device))[:, None, None, :]
    batch = torch.arange(len(x), device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


@dataclass(frozen=True)
class FlipStep:
    p: float

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        flip = torch.rand(len(x), generator=generator, device=x.device) < self.p
        return torch.where(flip[:, None, None, None], x.flip(3), x)


@dataclass(frozen=True)
class RotationStep:
    low: float
    high: float

    def angles(self, n: int, generator: torch.Generator, device) -> torch.Tensor:
        return torch.empty(n, device=device).uniform_(self.low, self.high, generator=generator)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return rotate(x, self.angles(len(x), generator, x.device))


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Each image rotated counter-clockwise by its angle about the centre (nearest, zero fill), as
    torchvision's rotate does; any dtype in, same dtype out."""
    rad = degrees.float() * (math.pi / 180)
    cos, sin = torch.cos(rad), torch.sin(rad)
    zero = torch.zeros_like(cos)
    # output (u, v) in normalised coordinates samples input R(-angle)·(u, v) with y pointing down
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    height, width = x.shape[-2:]
    theta[:, 0, 1] *= height / width
    theta[:, 1, 0] *= width / height
    grid = F.affine_grid(theta, [len(x), 1, height, width], align_corners=False)
    out = F.grid_sample(x.float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return out.round().to(x.dtype) if not x.is_floating_point() else out.to(x.dtype)


class BatchTransform:
    """Augment (when asked) and normalise a uint8 N×C×H×W batch on its own device."""

    def __init__(self, mean, std, input_size: int | None, steps: Sequence, channels_last: bool = False):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.input_size, self.steps, self.channels_last = input_size, list(steps), channels_last

    @property
    def augments(self) -> bool:
        return bool(self.steps)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None, augment: bool = True) -> torch.Tensor:
        if augment:
            for step in self.steps:
                x = step(x, generator)
        x = x.float().div_(255)
        if self.input_size is not None and tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", antialias=True,
                              align_corners=False)
        x = x.sub_(self.mean.to(x.device)).div_(self.std.to(x.device))
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
