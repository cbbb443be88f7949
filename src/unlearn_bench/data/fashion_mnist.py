"""Fashion-MNIST (70,000 28×28 grey images, 10 classes) read from its IDX files.

Looked for in `root`, `root/FashionMNIST/raw` (torchvision's layout), `root/fashion-mnist` and the
Debian package's folder (`apt-get install dataset-fashion-mnist`), plain or gzipped.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from unlearn_bench.data.base import DatasetBundle, ImageSplit
from unlearn_bench.utils.errors import UnlearnBenchError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# IDX magic numbers: unsigned bytes, with 3 (images) or 1 (labels) dimensions
IMAGES_MAGIC, LABELS_MAGIC = 0x0803, 0x0801


def load_fashion_mnist(root: str | Path) -> DatasetBundle:
    """uint8 N×1×28×28 images; the first directory holding all four files wins."""
    folder, paths = find_fashion_mnist(Path(root))
    splits = []
    for split in ("train", "test"):
        images = read_idx(paths[f"{split}_images"], IMAGES_MAGIC)
        labels = read_idx(paths[f"{split}_labels"], LABELS_MAGIC).astype(np.int64)
        if len(images) != len(labels) or images.shape[1:] != (28, 28):
            raise UnlearnBenchError(
                f"{paths[f'{split}_images']} is malformed: {images.shape} images for {len(labels)} labels."
            )
        if len(labels) and labels.max() >= len(CLASSES):
            raise UnlearnBenchError(f"{paths[f'{split}_labels']} is malformed: labels above 9.")
        splits.append(ImageSplit(torch.from_numpy(images[:, None].copy()), torch.from_numpy(labels)))
    return DatasetBundle("fashion_mnist", splits[0], splits[1], list(CLASSES), source=str(folder))


def search_dirs(root: Path) -> list[Path]:
    return [root, root / "FashionMNIST" / "raw", root / "fashion-mnist", DEBIAN_DIR]


def find_fashion_mnist(root: Path) -> tuple[Path, dict[str, Path]]:
    for folder in search_dirs(root):
        paths = {key: _find(folder, stem) for key, stem in FILES.items()}
        if all(paths.values()):
            return folder, paths
    searched = ", ".join(str(d) for d in search_dirs(root))
    raise UnlearnBenchError(
        f"Fashion-MNIST file {FILES['train_images']}[.gz] not found (with the other three IDX files) in "
        f"{searched}: install it with `apt-get install dataset-fashion-mnist`, or set dataset.root=PATH "
        f"to a folder holding the four IDX files."
    )


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX file of unsigned bytes (big-endian header: magic, then one uint32 per dimension)."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as err:  # also gzip.BadGzipFile
        raise UnlearnBenchError(f"{path} is not readable ({err}); replace it.") from err
    ndim = magic & 0xFF
    header = 4 * (1 + ndim)
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise UnlearnBenchError(f"{path} is malformed: not an IDX file with magic number {magic:#06x}.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) - header != int(np.prod(shape)):
        raise UnlearnBenchError(f"{path} is malformed: {len(raw) - header} bytes of data for shape {shape}.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
