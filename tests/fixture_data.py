"""Tiny datasets in the exact on-disk formats of CIFAR-10/100 (torchvision's pickles), Pins (image
folders) and Fashion-MNIST (IDX): `from fixture_data import write_cifar10, ...`.

Images are random noise around a per-class grey level, so a model can learn a little from them.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
CIFAR100_COARSE = [
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
]
CIFAR100_FINE = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle",
    "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
    "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon",
    "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail",
    "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
    "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm",
]
# the real CIFAR-100 superclass of each fine class (rocket 69 → vehicles_2 19)
CIFAR100_FINE_TO_COARSE = [
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
PINS_PEOPLE = ["Adriana Lima", "Alex Lawther", "Alexandra Daddario", "Alvaro Morte", "Amanda Crew",
               "Andy Samberg", "Anne Hathaway", "Anthony Mackie", "Avril Lavigne", "Ben Affleck"]


def _labels(num_classes: int, per_class: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.repeat(np.arange(num_classes), per_class))


def _images(labels: np.ndarray, num_classes: int, shape: tuple[int, ...], rng) -> np.ndarray:
    level = (labels * (200 // max(num_classes - 1, 1)) + 20).reshape(-1, *[1] * len(shape))
    noise = rng.integers(-20, 21, size=(len(labels), *shape))
    return np.clip(level + noise, 0, 255).astype(np.uint8)


class _Py2Str(bytes):
    """A Python 2 `str`, as the CIFAR pickles hold: `str` under encoding="latin1", bytes under "bytes"."""


class _Py2Pickler(pickle._Pickler):
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: _Py2Str) -> None:
        n = len(obj)
        head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(head + bytes(obj))
        self.memoize(obj)

    dispatch[_Py2Str] = save_py2_str


def _s(text: str) -> _Py2Str:
    return _Py2Str(text.encode("latin1"))


def _dump(path: Path, entry: dict) -> None:
    """A protocol-2 pickle with Python 2 string keys, like the files in the CIFAR archives."""
    with path.open("wb") as f:
        _Py2Pickler(f, protocol=2).dump({_s(k): v for k, v in entry.items()})


def write_cifar10(root: str | Path, per_class: int = 5, test_per_class: int = 2, seed: int = 0) -> Path:
    """root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}; returns that folder."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train = _labels(10, per_class, rng)
    for i, part in enumerate(np.array_split(train, 5), start=1):
        _dump(folder / f"data_batch_{i}", _cifar10_batch(f"training batch {i} of 5", part, rng))
    _dump(folder / "test_batch", _cifar10_batch("testing batch 1 of 1", _labels(10, test_per_class, rng), rng))
    _dump(folder / "batches.meta", {"num_cases_per_batch": len(train) // 5,
                                    "label_names": [_s(n) for n in CIFAR10_CLASSES], "num_vis": 3072})
    return folder


def _cifar10_batch(title: str, labels: np.ndarray, rng) -> dict:
    return {
        "batch_label": _s(title),
        "labels": labels.tolist(),
        "data": _images(labels, 10, (3 * 32 * 32,), rng),
        "filenames": [_s(f"img_{i}.png") for i in range(len(labels))],
    }


def write_cifar100(root: str | Path, per_class: int = 3, test_per_class: int = 1, seed: int = 0) -> Path:
    """root/cifar-100-python/{train, test, meta} with all 100 fine classes; returns that folder."""
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, count in (("train", per_class), ("test", test_per_class)):
        fine = _labels(100, count, rng)
        coarse = np.asarray(CIFAR100_FINE_TO_COARSE)[fine]
        _dump(folder / name, {
            "filenames": [_s(f"img_{i}.png") for i in range(len(fine))],
            "batch_label": _s(f"{name}ing batch 1 of 1"),
            "fine_labels": fine.tolist(),
            "coarse_labels": coarse.tolist(),
            "data": _images(coarse, 20, (3 * 32 * 32,), rng),
        })
    _dump(folder / "meta", {"fine_label_names": [_s(n) for n in CIFAR100_FINE],
                            "coarse_label_names": [_s(n) for n in CIFAR100_COARSE]})
    return folder


def write_pins(root: str | Path, num_classes: int = 5, per_class: int = 5, size: int = 40,
               seed: int = 0) -> Path:
    """root/105_classes_pins_dataset/pins_<Name>/<name><i>_<n>.jpg; returns that folder."""
    folder = Path(root) / "105_classes_pins_dataset"
    rng = np.random.default_rng(seed)
    people = (PINS_PEOPLE + [f"Person {i:03d}" for i in range(len(PINS_PEOPLE), num_classes)])[:num_classes]
    for label, person in enumerate(people):
        person_dir = folder / f"pins_{person}"
        person_dir.mkdir(parents=True, exist_ok=True)
        images = _images(np.full(per_class, label), num_classes, (size, size, 3), rng)
        for i, image in enumerate(images):
            Image.fromarray(image).save(person_dir / f"{person.split()[0].lower()}{i}_{label}.jpg", quality=90)
    return folder


def write_fashion_mnist(root: str | Path, per_class: int = 3, test_per_class: int = 2, gz: bool = True,
                        seed: int = 0) -> Path:
    """The four IDX files (gzipped by default) directly in root; returns root."""
    folder = Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, count in (("train", per_class), ("t10k", test_per_class)):
        labels = _labels(10, count, rng)
        images = _images(labels, 10, (28, 28), rng)
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", 0x0803, images, gz)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", 0x0801, labels.astype(np.uint8), gz)
    return folder


def _write_idx(path: Path, magic: int, array: np.ndarray, gz: bool) -> None:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def write_image_tree(root: str | Path, classes: list[str], per_class: int = 4, test_per_class: int | None = 2,
                     size: int = 12, seed: int = 0) -> Path:
    """root/{train,test}/<class>/<i>.{jpg,png} (alternating formats); test_per_class=None writes the
    one-folder layout root/<class>/<i>.* instead. Returns root."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    layout = [("", per_class)] if test_per_class is None else [("train", per_class), ("test", test_per_class)]
    for split, count in layout:
        for label, name in enumerate(classes):
            folder = root / split / name if split else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(_images(np.full(count, label), len(classes), (size, size, 3), rng)):
                Image.fromarray(image).save(folder / f"{i:04d}.{'png' if i % 2 else 'jpg'}")
    return root
