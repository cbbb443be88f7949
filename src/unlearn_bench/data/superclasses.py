"""A class hierarchy on any dataset (`dataset.superclasses`: superclass name -> its fine classes): the
model is trained on the superclass labels, and the fine labels stay for sub-class forgetting
(task=subclass), as CIFAR-20 keeps CIFAR-100's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import torch

from unlearn_bench.data.base import DatasetBundle, ImageSplit
from unlearn_bench.utils.errors import UnlearnBenchError

KEY = "dataset.superclasses"


def _fine_index(name, classes: list[str], superclass: str) -> int:
    text = str(name)
    if text in classes:
        return classes.index(text)
    raise UnlearnBenchError(f"{KEY}: {superclass!r} lists {text!r}, which is not a class of the dataset; its classes: "
                            f"{', '.join(classes)}.")


def superclass_map(superclasses: Mapping[str, Sequence], classes: list[str]) -> list[int]:
    """The superclass index of each class (in `classes` order), the superclasses numbered in the map's
    order; one sentence for a map that is not a partition of `classes`."""
    if not isinstance(superclasses, Mapping) or not superclasses:
        raise UnlearnBenchError(f"{KEY} must map each superclass name to a list of the dataset's classes, e.g. "
                                "{vehicles: [airplane, ship], animals: [cat, dog]}.")
    owner: dict[int, str] = {}
    for superclass, members in superclasses.items():
        if isinstance(members, str) or not isinstance(members, Sequence) or not members:
            raise UnlearnBenchError(f"{KEY}: {superclass!r} must list its classes ([name, ...]), got {members!r}.")
        for name in members:
            fine = _fine_index(name, classes, superclass)
            if fine in owner:
                where = "twice" if owner[fine] == superclass else f"in {owner[fine]!r} and in {superclass!r}"
                raise UnlearnBenchError(f"{KEY}: class {classes[fine]!r} is listed {where}; each class belongs to "
                                        "one superclass.")
            owner[fine] = superclass
    missing = [name for i, name in enumerate(classes) if i not in owner]
    if missing:
        raise UnlearnBenchError(f"{KEY} leaves out {', '.join(map(repr, missing))}: every class needs a superclass "
                                "(a class of its own is a superclass of one: {name: [name]}).")
    numbers = {name: i for i, name in enumerate(superclasses)}
    return [numbers[owner[i]] for i in range(len(classes))]


def with_superclasses(bundle: DatasetBundle, superclasses: Mapping[str, Sequence]) -> DatasetBundle:
    """`bundle` labelled with the superclasses of `superclasses`; its own labels become the fine ones."""
    if bundle.has_superclasses:
        raise UnlearnBenchError(f"{bundle.name} has its own superclasses already: leave {KEY} unset.")
    to_coarse = superclass_map(superclasses, bundle.classes)
    lookup = torch.tensor(to_coarse, dtype=torch.long)

    def relabel(split: ImageSplit) -> ImageSplit:
        return ImageSplit(split.images, lookup[split.targets.long()], split.targets.clone())

    return replace(bundle, train=relabel(bundle.train), test=relabel(bundle.test),
                   classes=[str(name) for name in superclasses], fine_classes=list(bundle.classes),
                   fine_to_coarse=to_coarse, aliases={})
