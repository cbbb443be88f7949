"""Image-folder datasets, decoded once into uint8 tensors and cached on disk by content.

Two layouts: `root/{train,test}/<class>/*.{jpg,png,...}`, or `root/<class>/*` split per class into
test/train with a seeded stratified draw (as Pins). Classes are the sorted folder names (as
torchvision's ImageFolder). The decoded tensors are cached under `cache_dir` with a key that hashes
every file's bytes, so replacing an image invalidates the cache (and, through the pixels, the
dataset fingerprint that keys the model caches).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from PIL import Image

from unlearn_bench.cache.files import atomic_write_bytes, stale_temps
from unlearn_bench.data.base import DatasetBundle, ImageSplit
from unlearn_bench.utils.errors import UnlearnBenchError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
CACHE_FORMAT = 1


def class_folders(folder: Path) -> list[Path]:
    """The class sub-folders of `folder`, sorted by name (hidden ones skipped)."""
    return sorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")),
                  key=lambda d: d.name)


def image_files(folder: Path) -> list[Path]:
    """The image files of one class folder, sorted by name."""
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: p.name)


def has_split_folders(root: Path) -> bool:
    return (root / "train").is_dir() and (root / "test").is_dir()


def stratified_file_split(files_per_class: Sequence[Sequence[Path]], test_fraction: float,
                          split_seed: int) -> tuple[tuple[list[Path], list[int]], tuple[list[Path], list[int]]]:
    """(train files, labels), (test files, labels): test_fraction of each class (at least one, never
    all), drawn with `split_seed`, kept in file order inside each split."""
    if not 0 < test_fraction < 1:
        raise UnlearnBenchError(f"dataset.loader.test_fraction must lie in (0, 1), got {test_fraction}.")
    rng = np.random.default_rng(split_seed)
    train: tuple[list[Path], list[int]] = ([], [])
    test: tuple[list[Path], list[int]] = ([], [])
    for label, files in enumerate(files_per_class):
        order = rng.permutation(len(files))
        n_test = min(max(round(test_fraction * len(files)), 1), len(files) - 1)
        for split, part in ((test, order[:n_test]), (train, order[n_test:])):
            for i in sorted(part):
                split[0].append(files[i])
                split[1].append(label)
    return train, test


def decode_image(path: Path, size: int | None, channels: int) -> np.ndarray:
    """H×W×C uint8 pixels of one file, resized to size×size when asked; a bad file is named."""
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if size is not None and img.size != (size, size):
                img = img.resize((size, size), Image.BILINEAR)
            array = np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise UnlearnBenchError(f"{path} is not a readable image ({type(err).__name__}); remove or replace it.") \
            from err
    return array.reshape(*array.shape[:2], channels)


def decode_images(files: Sequence[Path], size: int | None, channels: int) -> torch.Tensor:
    """uint8 N×C×H×W; without `size` every image must already share one size."""
    arrays = []
    for path in files:
        array = decode_image(path, size, channels)
        if arrays and array.shape != arrays[0].shape:
            raise UnlearnBenchError(
                f"{path} is {array.shape[1]}×{array.shape[0]} but {files[0]} is "
                f"{arrays[0].shape[1]}×{arrays[0].shape[0]}: set dataset.load_size=N to resize every image."
            )
        arrays.append(array)
    if not arrays:
        return torch.empty(0, channels, size or 0, size or 0, dtype=torch.uint8)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def content_digest(files: Sequence[Path], labels: Sequence[int]) -> str:
    """sha256 over each file's bytes and label (names do not enter: a renamed file hashes the same)."""
    h = hashlib.sha256()
    for path, label in zip(files, labels, strict=True):
        h.update(hashlib.sha256(path.read_bytes()).digest())
        h.update(int(label).to_bytes(4, "little"))
    return h.hexdigest()


def decode_splits(splits: dict[str, tuple[Sequence[Path], Sequence[int]]], size: int | None, channels: int,
                  cache_dir: str | Path | None) -> dict[str, ImageSplit]:
    """Decoded ImageSplits, read from the content-keyed cache when there (tensors only on disk)."""
    h = hashlib.sha256(json.dumps({"format": CACHE_FORMAT, "size": size, "channels": channels}).encode())
    for name, (files, labels) in sorted(splits.items()):
        h.update(name.encode())
        h.update(content_digest(files, labels).encode())
    if cache_dir is None:
        return _decode_all(splits, size, channels)
    path = Path(cache_dir) / f"{h.hexdigest()[:24]}.pt"
    cached = _read_cache(path, splits)
    if cached is not None:
        return cached
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path.parent / f".{path.stem}.lock"))
        lock.acquire()  # one process decodes; the others wait, then read its file
    except OSError as err:
        _cannot_cache(err, path)
        return _decode_all(splits, size, channels)
    try:
        cached = _read_cache(path, splits)
        if cached is not None:
            return cached
        for tmp in [*path.parent.glob(f"{path.stem}.*.tmp"), *stale_temps(path)]:  # a killed writer's
            tmp.unlink(missing_ok=True)
        out = _decode_all(splits, size, channels)
        buffer = io.BytesIO()
        torch.save({f"{n}_{k}": getattr(s, attr) for n, s in out.items()
                    for k, attr in (("images", "images"), ("targets", "targets"))}, buffer)
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except OSError as err:
            _cannot_cache(err, path)
        return out
    finally:
        lock.release()


def _read_cache(path: Path, splits) -> dict[str, ImageSplit] | None:
    if not path.is_file():
        return None
    try:
        cached = torch.load(path, map_location="cpu", weights_only=True)
        return {name: ImageSplit(cached[f"{name}_images"], cached[f"{name}_targets"]) for name in splits}
    except Exception as err:  # noqa: BLE001 - a damaged cache file is rebuilt
        log.warning("Decoded-image cache %s is unreadable (%s); decoding again.", path, err)
        return None


def _decode_all(splits, size: int | None, channels: int) -> dict[str, ImageSplit]:
    out = {}
    for name, (files, labels) in splits.items():
        log.info("Decoding %d %s images ...", len(files), name)
        out[name] = ImageSplit(decode_images(files, size, channels), torch.tensor(list(labels), dtype=torch.long))
    return out


def _cannot_cache(err: OSError, path: Path) -> None:
    log.warning("Cannot write the decoded-image cache at %s (%s): the images are decoded into memory only.",
                err.filename or path, err.strerror or err)


def load_image_folder(
    root: str | Path,
    name: str = "image_folder",
    load_size: int | None = None,
    channels: int = 3,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    cache_dir: str | Path | None = None,
) -> DatasetBundle:
    """A dataset from `root/{train,test}/<class>/` or `root/<class>/` (seeded stratified test split)."""
    root = Path(root)
    if not root.is_dir():
        raise UnlearnBenchError(f"The image folder {root} does not exist: set dataset.root=PATH.")
    if has_split_folders(root):
        classes = [d.name for d in class_folders(root / "train")]
        test_classes = [d.name for d in class_folders(root / "test")]
        if test_classes != classes:
            raise UnlearnBenchError(
                f"{root / 'test'} has class folders {test_classes} but {root / 'train'} has {classes}: "
                f"make them the same."
            )
        splits = {split: _labelled(root / split, classes) for split in ("train", "test")}
        extra: dict = {}
    else:
        classes = [d.name for d in class_folders(root)]
        per_class = [_class_files(root / c) for c in classes]
        train, test = stratified_file_split(per_class, test_fraction, split_seed)
        splits = {"train": train, "test": test}
        extra = {"test_fraction": test_fraction, "split_seed": split_seed}
    if not classes:
        raise UnlearnBenchError(
            f"{root} holds no class folders: arrange images as {root}/train/<class>/*.jpg and "
            f"{root}/test/<class>/*.jpg, or {root}/<class>/*.jpg."
        )
    decoded = decode_splits(splits, load_size, channels, cache_dir)
    return DatasetBundle(name, decoded["train"], decoded["test"], classes, source=str(root), extra=extra)


def _class_files(folder: Path) -> list[Path]:
    files = image_files(folder)
    if not files:
        raise UnlearnBenchError(f"The class folder {folder} holds no image ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return files


def _labelled(split_dir: Path, classes: Sequence[str]) -> tuple[list[Path], list[int]]:
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        found = _class_files(split_dir / name)
        files += found
        labels += [label] * len(found)
    return files, labels
