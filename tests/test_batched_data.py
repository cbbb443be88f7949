"""The batched on-device data path: same distributions as the per-sample v2 pipeline, seeded."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import ConcatDataset, DataLoader, Subset
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from unlearn_bench.data.base import ImageDataset, ImageSplit
from unlearn_bench.data.batches import TensorBatches, make_loader, tensor_source
from unlearn_bench.data.transforms import TransformSpec, crop_at, rotate
from unlearn_bench.methods.loops import Relabelled, Tagged

N = 2000
CROP = v2.RandomCrop(32, padding=4)
FLIP = v2.RandomHorizontalFlip()
ROTATION = v2.RandomRotation(15)


def coordinate_images(n: int, size: int = 32) -> torch.Tensor:
    """uint8 n×2×size×size: channel 0 holds row+1, channel 1 column+1 (0 marks padding)."""
    rows = torch.arange(1, size + 1, dtype=torch.uint8)[:, None].expand(size, size)
    cols = torch.arange(1, size + 1, dtype=torch.uint8)[None, :].expand(size, size)
    return torch.stack([rows, cols])[None].repeat(n, 1, 1, 1)


def per_sample(aug, images: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.stack([aug(img) for img in images])


def batched(aug, images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    step = TransformSpec((0.0,), (1.0,), augmentations=(aug,)).batched().steps[0]
    return step(images, torch.Generator().manual_seed(seed))


def crop_offsets(out: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Top-left offsets in the padded image, read from the centre pixel's coordinates."""
    return (out[:, 0, 16, 16].long() - 1 - 16 + 4).numpy(), (out[:, 1, 16, 16].long() - 1 - 16 + 4).numpy()


def frequencies(values: np.ndarray, support: int) -> np.ndarray:
    return np.bincount(values, minlength=support) / len(values)


def test_crop_offsets_are_uniform_over_the_same_support():
    images = coordinate_images(N)
    for out in (per_sample(CROP, images), batched(CROP, images)):
        for offsets in crop_offsets(out):
            assert offsets.min() == 0 and offsets.max() == 8
            assert np.abs(frequencies(offsets, 9) - 1 / 9).max() < 0.035


def test_crop_at_equals_torchvision_pad_then_crop():
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    oy, ox = torch.tensor([0, 8, 3, 4, 1]), torch.tensor([8, 0, 5, 4, 7])
    expected = torch.stack([TF.crop(TF.pad(img, [4]), int(y), int(x), 32, 32) for img, y, x in zip(images, oy, ox, strict=True)])
    assert torch.equal(crop_at(images, oy, ox, (32, 32), 4), expected)


def test_flip_rate_matches():
    images = coordinate_images(N)
    for out in (per_sample(FLIP, images), batched(FLIP, images)):
        flipped = (out[:, 1, 0, 0] == 32).float().mean().item()
        assert abs(flipped - 0.5) < 0.035


@pytest.mark.parametrize("angle", [90.0, 33.0, -15.0, 7.5])
def test_rotation_equals_torchvision_for_the_same_angle(angle):
    images = torch.randint(0, 256, (2, 3, 20, 28), dtype=torch.uint8)
    assert torch.equal(rotate(images, torch.tensor([angle, angle])), TF.rotate(images, angle))


def rotation_angles(out: torch.Tensor, size: int = 64) -> np.ndarray:
    """The angle each image was turned by, read from where a point 24 px right of centre came from."""
    centre = (size - 1) / 2
    r, c = size // 2, size // 2 + 24
    src_r, src_c = out[:, 0, r, c].double() - 1, out[:, 1, r, c].double() - 1
    there = math.atan2(-(r - centre), c - centre)
    came_from = torch.atan2(-(src_r - centre), src_c - centre)
    return np.degrees(there - came_from.numpy())


def test_rotation_range_matches():
    images = coordinate_images(1000, size=64)
    old, new = rotation_angles(per_sample(ROTATION, images)), rotation_angles(batched(ROTATION, images))
    for angles in (old, new):
        assert np.abs(angles).max() <= 15 + 2.5 and np.abs(angles).max() > 13
    assert np.abs(np.quantile(old, [0.1, 0.25, 0.5, 0.75, 0.9]) - np.quantile(new, [0.1, 0.25, 0.5, 0.75, 0.9])).max() < 2.0


def split_of(n: int, size: int = 8, seed: int = 0) -> ImageSplit:
    g = torch.Generator().manual_seed(seed)
    return ImageSplit(torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8),
                      torch.arange(n) % 3)


SPEC = TransformSpec((0.5, 0.4, 0.3), (0.2, 0.25, 0.3), augmentations=(v2.RandomCrop(8, padding=2), FLIP, ROTATION))


def test_normalisation_and_resize_equal_the_per_sample_transform():
    data = ImageDataset(split_of(20), spec=TransformSpec((0.5, 0.4, 0.3), (0.2, 0.25, 0.3), input_size=12))
    loader = make_loader(data, "cpu", batch_size=8)
    assert isinstance(loader, TensorBatches)
    x = torch.cat([x for x, _ in loader])
    y = torch.cat([y for _, y in loader])
    expected = torch.stack([data[i][0] for i in range(len(data))])
    assert x.shape == (20, 3, 12, 12)
    assert torch.allclose(x, expected, atol=1e-5) and torch.equal(y, data.split.targets)


def epoch(loader) -> list[torch.Tensor]:
    return [t for batch in loader for t in batch]


def test_augmented_batches_are_deterministic_for_a_seed_and_differ_across_seeds():
    data = ImageDataset(split_of(40), spec=SPEC, augment=True)
    first, again = epoch(make_loader(data, "cpu", 16, shuffle=True, seed=3)), \
        epoch(make_loader(data, "cpu", 16, shuffle=True, seed=3))
    other = epoch(make_loader(data, "cpu", 16, shuffle=True, seed=4))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])
    loader = make_loader(data, "cpu", 16, shuffle=True, seed=3)
    assert not torch.equal(epoch(loader)[0], epoch(loader)[0])  # a new order and new draws each epoch


def test_eval_datasets_are_not_augmented():
    data = ImageDataset(split_of(10), spec=SPEC, augment=False)
    x = torch.cat([x for x, _ in make_loader(data, "cpu", 4)])
    assert torch.allclose(x, torch.stack([data[i][0] for i in range(10)]), atol=1e-5)


def test_wrappers_keep_the_tensor_form():
    data = ImageDataset(split_of(12), spec=SPEC)
    source = tensor_source(ConcatDataset([Subset(data, [5, 1]), Relabelled(Subset(data, [2]), [9])]))
    assert torch.equal(source.images, data.split.images[[5, 1, 2]])
    assert source.columns[0].tolist() == [2, 1, 9]
    tagged = tensor_source(Tagged(data, 1))
    assert tagged.columns[1].tolist() == [1] * 12 and len(next(iter(make_loader(Tagged(data, 1), "cpu", 4)))) == 3


@pytest.mark.parametrize("dataset", [
    ImageDataset(ImageSplit(["a.jpg"], torch.tensor([0])), spec=SPEC),  # file-backed
    ImageDataset(split_of(4), spec=TransformSpec((0.5,), (0.5,), augmentations=(v2.ColorJitter(0.2),)),
                 augment=True),  # no batched form
    ImageDataset(split_of(4), transform=lambda img: img.float()),  # no spec
])
def test_other_data_keeps_the_per_sample_dataloader(dataset):
    assert isinstance(make_loader(dataset, "cpu", 2), DataLoader)


def test_ranks_cover_every_sample_in_equal_shares():
    data = ImageDataset(split_of(10), spec=TransformSpec((0.0,) * 3, (1.0,) * 3))
    seen = []
    for rank in range(3):
        loader = TensorBatches(tensor_source(data), "cpu", 2, shuffle=True, seed=1, rank=rank, world_size=3)
        labels = [y for _, y in loader]
        assert len(labels) == len(loader) == 2 and sum(len(y) for y in labels) == 4
        seen += [int(v) for y in labels for v in y]
    assert len(seen) == 12 and sorted(set(seen)) == [0, 1, 2]


def test_unshuffled_batches_expose_the_single_process_order():
    data = ImageDataset(split_of(5), spec=TransformSpec((0.0,) * 3, (1.0,) * 3))
    loader = make_loader(data, "cpu", 2)
    assert loader.batch_sampler == [[0, 1], [2, 3], [4]] and loader.dataset is data
