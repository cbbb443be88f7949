"""Batches of in-memory datasets, built on the training device: one uint8 tensor there, gathered,
augmented and normalised per batch (the fast path), or a DataLoader over the samples (the
per-sample path: file-backed splits, wrappers without a tensor form, augmentations without a
batched form). Both yield `(x, y, ...)` tuples, so a loop reads `for x, y in loader` either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset

from unlearn_bench.data.transforms import BatchTransform, TransformSpec

# a dataset moves to an accelerator when it takes at most this share of its free memory
DEVICE_MEMORY_SHARE = 0.5


@dataclass
class TensorSource:
    """A dataset as tensors: uint8 images, per-sample columns (labels first), one transform spec."""

    images: torch.Tensor
    columns: list[torch.Tensor]
    spec: TransformSpec
    augment: bool


def tensor_source(dataset: Dataset) -> TensorSource | None:
    """The tensor form of an ImageDataset (or Subset/ConcatDataset/relabelled/tagged views of ones)."""
    as_source = getattr(dataset, "tensor_source", None)
    if callable(as_source):
        return as_source()
    if isinstance(dataset, Subset):
        inner = tensor_source(dataset.dataset)
        if inner is None:
            return None
        idx = torch.as_tensor(list(dataset.indices), dtype=torch.long)
        return TensorSource(inner.images[idx], [c[idx] for c in inner.columns], inner.spec, inner.augment)
    if isinstance(dataset, ConcatDataset):
        parts = [tensor_source(d) for d in dataset.datasets]
        if not parts or any(p is None for p in parts):
            return None
        first = parts[0]
        same = all(p.spec == first.spec and p.augment == first.augment and len(p.columns) == len(first.columns)
                   and p.images.shape[1:] == first.images.shape[1:] for p in parts)
        if not same:
            return None
        columns = [torch.cat([p.columns[i] for p in parts]) for i in range(len(first.columns))]
        return TensorSource(torch.cat([p.images for p in parts]), columns, first.spec, first.augment)
    return None


def fits_on(device: torch.device, nbytes: int) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= DEVICE_MEMORY_SHARE * free


class TensorBatches:
    """Mini-batches of a TensorSource on `device`; a new seeded order each pass when shuffled.

    With world_size > 1 each rank takes every world_size-th sample of the order (padded by
    wrapping so that every rank runs the same number of batches, as DistributedSampler does).
    """

    def __init__(self, source: TensorSource, device: torch.device | str, batch_size: int, shuffle: bool = False,
                 seed: int = 0, channels_last: bool = False, rank: int = 0, world_size: int = 1,
                 dataset: Dataset | None = None):
        self.device = torch.device(device)
        resident = fits_on(self.device, source.images.numel())
        self.images = source.images.to(self.device) if resident else source.images
        self.columns = [c.to(self.device) for c in source.columns]
        transform = source.spec.batched(channels_last)
        if transform is None:
            raise ValueError("This transform has no batched form; use make_loader().")
        self.transform: BatchTransform = transform
        self.augment = source.augment
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rank, self.world_size = rank, world_size
        self.order_generator = torch.Generator().manual_seed(seed)
        self.augment_generator = torch.Generator(self.device).manual_seed(seed + 7919 * rank)
        self.dataset = dataset  # the per-sample view, for code that needs one (multi-device importance)

    def _order(self) -> torch.Tensor:
        n = len(self.images)
        order = torch.randperm(n, generator=self.order_generator) if self.shuffle else torch.arange(n)
        if self.world_size > 1:
            per_rank = -(-n // self.world_size)
            order = order.repeat(-(-per_rank * self.world_size // max(n, 1)))[: per_rank * self.world_size]
            order = order[self.rank::self.world_size]
        return order

    def __len__(self) -> int:
        n = -(-len(self.images) // self.world_size) if self.world_size > 1 else len(self.images)
        return -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        order = self._order()
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            images = self.images[idx.to(self.images.device)].to(self.device, non_blocking=True)
            idx = idx.to(self.device)
            x = self.transform(images, self.augment_generator, augment=self.augment)
            yield (x, *(c[idx] for c in self.columns))

    def rng_state(self) -> dict:
        """The batch order's and the augmentations' generator states (saved with a training checkpoint)."""
        return {"order": self.order_generator.get_state(), "augment": self.augment_generator.get_state()}

    def set_rng_state(self, state: dict) -> None:
        self.order_generator.set_state(state["order"])
        self.augment_generator.set_state(state["augment"])

    # what the multi-device importance pass reads of a DataLoader (unshuffled batches of `dataset`)
    @property
    def batch_sampler(self) -> list[list[int]]:
        return [b.tolist() for b in torch.arange(len(self.images)).split(self.batch_size)]

    num_workers, collate_fn, pin_memory, worker_init_fn = 0, None, False, None


def make_loader(dataset: Dataset, device: torch.device | str, batch_size: int, shuffle: bool = False,
                seed: int = 0, num_workers: int = 0, channels_last: bool = False, rank: int = 0,
                world_size: int = 1):
    """TensorBatches when the dataset has a tensor form with a batched transform, else a DataLoader."""
    source = tensor_source(dataset)
    if source is not None and source.spec.batched() is not None:
        return TensorBatches(source, device, batch_size, shuffle, seed, channels_last, rank, world_size, dataset)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers, generator=generator)


def sample_images(dataset: Dataset, n: int, seed: int = 0) -> torch.Tensor:
    """`n` images of `dataset` (a seeded draw, on the CPU), transformed as training sees them."""
    loader = make_loader(dataset, "cpu", min(n, len(dataset)), shuffle=True, seed=seed)
    return next(iter(loader))[0]
