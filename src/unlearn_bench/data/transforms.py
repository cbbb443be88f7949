"""Evaluation and training transforms: uint8 C×H×W tensor in, normalised float tensor out."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.transforms import v2


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
