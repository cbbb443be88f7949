"""CIFAR-10, CIFAR-100 and CIFAR-20 read from torchvision's on-disk pickles, or from image folders (a tree of
class folders; CIFAR-20's coarse labels then come from the standard CIFAR-100 hierarchy).

torchvision's classes refuse files whose MD5 differs from the published archive (tiny test files,
re-encoded copies); here a mismatch is a warning and a missing or malformed file is named. torchvision
is used only to download.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.datasets import CIFAR10, CIFAR100
from torchvision.datasets.utils import check_integrity

from unlearn_bench.data.base import DatasetBundle, ImageSplit
from unlearn_bench.data.cifar100_classes import FINE_CLASSES as CIFAR100_CLASSES
from unlearn_bench.data.cifar100_classes import SUPERCLASSES as CIFAR100_SUPERCLASSES
from unlearn_bench.data.folder import has_split_folders, load_image_folder
from unlearn_bench.data.superclasses import with_superclasses
from unlearn_bench.utils.errors import UnlearnBenchError

log = logging.getLogger(__name__)

# the paper's short names for five CIFAR-20 superclasses (task.forget=vehicle2)
CIFAR20_ALIASES = {
    "vehicle2": "vehicles_2",
    "veg": "fruit_and_vegetables",
    "people": "people",
    "electrical_devices": "household_electrical_devices",
    "natural_scenes": "large_natural_outdoor_scenes",
}

_TITLES = {CIFAR10: "CIFAR-10", CIFAR100: "CIFAR-100"}


CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def load_cifar10(root: str | Path, download: bool = False, cache_dir: str | Path | None = None) -> DatasetBundle:
    """The 50,000 / 10,000 CIFAR-10 images (uint8 N×3×32×32) with their 10 classes: from torchvision's
    cifar-10-batches-py/, or from an image-folder tree `{train,test}/<class>/*.jpg` (root or root/cifar10)."""
    tree = _tree(CIFAR10, Path(root), "cifar10")
    if tree is not None:
        return _load_tree(tree, CIFAR10, "cifar10", CIFAR10_CLASSES, cache_dir)
    folder = _locate(CIFAR10, Path(root), download)
    classes = _names(folder / CIFAR10.meta["filename"], "label_names")

    def read(files: list[list[str]]) -> ImageSplit:
        batches = [_read_batch(folder / name, {"labels": len(classes)}) for name, _ in files]
        images = torch.cat([images for images, _ in batches])
        targets = np.concatenate([labels["labels"] for _, labels in batches])
        return ImageSplit(images, torch.from_numpy(targets))

    return DatasetBundle("cifar10", read(CIFAR10.train_list), read(CIFAR10.test_list), classes,
                         source=str(folder))


def _tree(tv_class: type, root: Path, name: str) -> Path | None:
    """The image-folder form, when root holds no torchvision pickles but a train/test tree (in root
    or root/<name>)."""
    if (root / tv_class.base_folder).is_dir() or root.name == tv_class.base_folder:
        return None
    return next((c for c in (root, root / name) if has_split_folders(c)), None)


def _load_tree(tree: Path, tv_class: type, name: str, classes: list[str],
               cache_dir: str | Path | None) -> DatasetBundle:
    bundle = load_image_folder(tree, name=name, load_size=32, cache_dir=cache_dir)
    if bundle.classes != classes:
        title = _TITLES[tv_class]
        unknown = sorted(set(bundle.classes) - set(classes))
        missing = sorted(set(classes) - set(bundle.classes))
        found = (f"class folders {bundle.classes}" if len(classes) <= 10 else
                 f"{len(bundle.classes)} class folders (not {title}'s: {', '.join(unknown[:5]) or 'none'}; missing: "
                 f"{', '.join(missing[:5]) or 'none'})")
        shown = classes if len(classes) <= 10 else f"{len(classes)} fine classes"
        raise UnlearnBenchError(
            f"{tree} holds {found}, not {title}'s {shown}: "
            f"set dataset.root=PATH to a {title} tree, or use dataset=image_folder for other data."
        )
    return bundle


def load_cifar100(root: str | Path, download: bool = False, cache_dir: str | Path | None = None) -> DatasetBundle:
    """The 50,000 / 10,000 CIFAR-100 images with the 100 fine labels: from torchvision's
    cifar-100-python/, or from a tree `{train,test}/<fine class>/*.jpg` (root or root/cifar100)."""
    tree = _tree(CIFAR100, Path(root), "cifar100")
    if tree is not None:
        return _load_tree(tree, CIFAR100, "cifar100", CIFAR100_CLASSES, cache_dir)
    data = _read_cifar100(Path(root), download)
    train, test = (ImageSplit(images, torch.from_numpy(fine)) for images, fine, _ in data["splits"])
    return DatasetBundle("cifar100", train, test, data["fine_names"], source=data["folder"])


def load_cifar20(root: str | Path, download: bool = False, cache_dir: str | Path | None = None) -> DatasetBundle:
    """CIFAR-100 images with the 20 coarse labels as targets; the fine labels kept for sub-class tasks.
    From a tree of fine-class folders (as load_cifar100) the coarse labels are the standard hierarchy's."""
    tree = _tree(CIFAR100, Path(root), "cifar100")
    if tree is not None:
        fine = _load_tree(tree, CIFAR100, "cifar100", CIFAR100_CLASSES, cache_dir)
        return replace(with_superclasses(fine, CIFAR100_SUPERCLASSES), name="cifar20", aliases=dict(CIFAR20_ALIASES))
    data = _read_cifar100(Path(root), download)
    train, test = (
        ImageSplit(images, torch.from_numpy(coarse), torch.from_numpy(fine))
        for images, fine, coarse in data["splits"]
    )
    return DatasetBundle(
        "cifar20",
        train,
        test,
        data["coarse_names"],
        fine_classes=data["fine_names"],
        fine_to_coarse=data["fine_to_coarse"],
        source=data["folder"],
        aliases=dict(CIFAR20_ALIASES),
    )


def _read_cifar100(root: Path, download: bool) -> dict[str, Any]:
    folder = _locate(CIFAR100, root, download)
    meta = folder / CIFAR100.meta["filename"]
    fine_names = _names(meta, "fine_label_names")
    coarse_names = _names(meta, "coarse_label_names")
    splits = []
    counts = {"fine_labels": len(fine_names), "coarse_labels": len(coarse_names)}
    for name, _ in (*CIFAR100.train_list, *CIFAR100.test_list):
        images, labels = _read_batch(folder / name, counts)
        splits.append((images, labels["fine_labels"], labels["coarse_labels"]))
    fine = np.concatenate([s[1] for s in splits])
    coarse = np.concatenate([s[2] for s in splits])
    return {
        "folder": str(folder),
        "splits": splits,
        "fine_names": fine_names,
        "coarse_names": coarse_names,
        "fine_to_coarse": _fine_to_coarse(fine, coarse, fine_names, folder),
    }


def _fine_to_coarse(fine: np.ndarray, coarse: np.ndarray, fine_names: list[str], folder: Path) -> list[int]:
    mapping = []
    for label, name in enumerate(fine_names):
        parents = np.unique(coarse[fine == label])
        if len(parents) != 1:
            found = "no sample" if len(parents) == 0 else f"several superclasses {parents.tolist()}"
            raise UnlearnBenchError(
                f"The CIFAR-100 files in {folder} are malformed: fine class {name!r} has {found}."
            )
        mapping.append(int(parents[0]))
    return mapping


def _locate(tv_class: type, root: Path, download: bool) -> Path:
    """The folder holding the pickles (root/<base_folder>, or root itself); download if asked."""
    title, base = _TITLES[tv_class], tv_class.base_folder
    files = [*tv_class.train_list, *tv_class.test_list, [tv_class.meta["filename"], tv_class.meta["md5"]]]
    folder = root if root.name == base else root / base
    missing = [name for name, _ in files if not (folder / name).is_file()]
    if missing and download:
        _download(tv_class, folder.parent)
        missing = [name for name, _ in files if not (folder / name).is_file()]
    if missing:
        raise UnlearnBenchError(
            f"{title} file {folder / missing[0]} is missing: set dataset.download=true to fetch it, "
            f"or dataset.root=PATH to a folder that holds {base}/"
            + (" (or, for CIFAR-10, train/<class>/ and test/<class>/ image folders)." if tv_class is CIFAR10 else ".")
        )
    changed = [name for name, md5 in files if not check_integrity(str(folder / name), md5)]
    if changed:
        log.warning("%s files in %s differ from torchvision's published checksums (%s); loading them anyway.",
                    title, folder, ", ".join(changed))
    return folder


def _download(tv_class: type, root: Path) -> None:
    title = _TITLES[tv_class]
    try:
        root.mkdir(parents=True, exist_ok=True)
        tv_class(root=str(root), train=True, download=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError; torchvision raises RuntimeError
        raise UnlearnBenchError(
            f"Downloading {title} failed ({err}); without network, fetch {tv_class.url} elsewhere, "
            f"unpack it into {root} so that {root / tv_class.base_folder}/ exists, and run with "
            f"dataset.download=false dataset.root={root}."
        ) from err


def _read_pickle(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            raw = pickle.load(f, encoding="latin1")
    except Exception as err:  # a truncated or foreign file can raise almost anything
        raise UnlearnBenchError(f"{path} is not a readable CIFAR pickle ({err!r}); replace it.") from err
    if not isinstance(raw, dict):
        raise UnlearnBenchError(f"{path} is malformed: it holds a {type(raw).__name__}, not a dict.")
    return {_text(k): v for k, v in raw.items()}


def _read_batch(path: Path, label_counts: dict[str, int]) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """uint8 N×3×32×32 images and the label arrays (key → number of classes) of one CIFAR pickle."""
    entry = _read_pickle(path)
    lacking = [k for k in ("data", *label_counts) if k not in entry]
    if lacking:
        raise UnlearnBenchError(f"{path} is malformed: it lacks the key(s) {', '.join(lacking)}.")
    data = np.asarray(entry["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise UnlearnBenchError(
            f"{path} is malformed: 'data' is {data.dtype} {data.shape}, not uint8 N×3072."
        )
    labels = {}
    for key, count in label_counts.items():
        values = np.asarray(entry[key], dtype=np.int64)
        if values.shape != (len(data),):
            raise UnlearnBenchError(f"{path} is malformed: {len(values)} {key} for {len(data)} images.")
        if len(values) and (values.min() < 0 or values.max() >= count):
            raise UnlearnBenchError(f"{path} is malformed: {key} outside 0..{count - 1}.")
        labels[key] = values
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), labels


def _names(path: Path, key: str) -> list[str]:
    entry = _read_pickle(path)
    if key not in entry:
        raise UnlearnBenchError(f"{path} is malformed: it lacks the key {key}.")
    return [_text(name) for name in entry[key]]


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
