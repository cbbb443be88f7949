"""Forgetting tasks: each turns the prepared data into a ForgetSplit (forget/retain of train and test)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from unlearn_bench.data.prepare import PreparedData
from unlearn_bench.data.selection import Selection, select_by_score
from unlearn_bench.utils.errors import UnlearnBenchError


@dataclass(frozen=True)
class ForgetSplit:
    """Indices into the prepared train, val and test splits; forget and retain sides are disjoint."""

    task: str
    target: str
    forget_idx: np.ndarray
    retain_idx: np.ndarray
    test_forget_idx: np.ndarray
    test_retain_idx: np.ndarray
    val_retain_idx: np.ndarray
    forget_classes: tuple[int, ...] = ()
    selection: dict | None = field(default=None, compare=False)  # how a scored selection chose the forget set

    def describe(self) -> str:
        return (
            f"{self.task} forgetting of {self.target}: {len(self.forget_idx)} forget / "
            f"{len(self.retain_idx)} retain training samples"
        )


def _resolve_name(value: str | int, names: list[str], kind: str,
                  aliases: dict[str, str] | None = None) -> int:
    """Index of a class given by index, name or alias (an alias maps to one of `names`)."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        index = int(value)
        if 0 <= index < len(names):
            return index
        raise UnlearnBenchError(f"task.forget: {kind} index {index} is out of range 0..{len(names) - 1}.")
    aliases = aliases or {}
    name = aliases.get(value, value)
    if name in names:
        return names.index(name)
    valid = ", ".join(names)
    if aliases:
        valid += "; aliases: " + ", ".join(f"{a}={n}" for a, n in aliases.items())
    raise UnlearnBenchError(f"Unknown {kind} {value!r} in task.forget; valid names: {valid}.")


def _split_by_mask(task: str, target: str, data: PreparedData, train_mask, val_mask, test_mask,
                   forget_classes: tuple[int, ...] = ()) -> ForgetSplit:
    if not train_mask.any():
        raise UnlearnBenchError(f"The training split holds no sample of {target}.")
    return ForgetSplit(
        task=task,
        target=target,
        forget_idx=np.flatnonzero(train_mask),
        retain_idx=np.flatnonzero(~train_mask),
        test_forget_idx=np.flatnonzero(test_mask),
        test_retain_idx=np.flatnonzero(~test_mask),
        val_retain_idx=np.flatnonzero(~val_mask),
        forget_classes=forget_classes,
    )


@dataclass
class ClassTask:
    """Forget a whole class (a CIFAR-20 superclass when the dataset's labels are superclasses)."""

    forget: str | int
    name: str = "class"
    requests: int = 1  # > 1: sequential forgetting of this class, then the next ones (sequential.py)

    def split(self, data: PreparedData) -> ForgetSplit:
        label = _resolve_name(self.forget, data.bundle.classes, "class", data.bundle.aliases)
        masks = [s.targets.numpy() == label for s in (data.train, data.val, data.test)]
        return _split_by_mask(self.name, data.bundle.classes[label], data, *masks, forget_classes=(label,))


@dataclass
class SubclassTask:
    """Forget one fine class while the other fine classes of its superclass stay (CIFAR-20, or any
    dataset with dataset.superclasses)."""

    forget: str | int | None
    name: str = "subclass"
    requests: int = 1

    def split(self, data: PreparedData) -> ForgetSplit:
        bundle = data.bundle
        if not bundle.has_superclasses:
            raise UnlearnBenchError(
                f"Sub-class forgetting needs a dataset with superclasses (cifar20, or dataset.superclasses="
                f"{{superclass: [class, ...], ...}}); {bundle.name} has none."
            )
        if self.forget is None:
            raise UnlearnBenchError("Sub-class forgetting needs task.forget=<fine class name>.")
        fine = _resolve_name(self.forget, bundle.fine_classes, "sub-class")
        parent = bundle.fine_to_coarse[fine]
        if bundle.fine_to_coarse.count(parent) < 2:
            raise UnlearnBenchError(
                f"{bundle.fine_classes[fine]!r} is the only class of superclass {bundle.classes[parent]!r}: "
                "forgetting it is class forgetting (task=class), not sub-class forgetting.")
        masks = [s.fine_targets.numpy() == fine for s in (data.train, data.val, data.test)]
        return _split_by_mask(self.name, bundle.fine_classes[fine], data, *masks)


@dataclass
class RandomTask:
    """Forget n_forget training samples: drawn uniformly (seeded), or chosen by a difficulty score
    (`selection`, data/selection.py; the scores come from models, experiment/setup.forget_split); the test
    split stays whole."""

    n_forget: int = 100
    seed: int = 0
    name: str = "random"
    requests: int = 1  # > 1: that many disjoint draws of n_forget samples, forgotten in turn
    selection: Selection | Mapping | None = None

    def __post_init__(self):
        if not isinstance(self.selection, Selection):
            self.selection = Selection(**dict(self.selection or {}))
        if self.selection.scored and self.requests > 1:
            raise UnlearnBenchError(
                f"task.selection.by={self.selection.by} chooses one forget set by its score; sequential requests "
                "(task.requests > 1) draw uniformly: set task.selection.by=uniform or task.requests=1.")

    def split(self, data: PreparedData, scores: np.ndarray | None = None) -> ForgetSplit:
        n_train = len(data.train)
        if not 0 < self.n_forget < n_train:
            raise UnlearnBenchError(
                f"task.n_forget must lie in 1..{n_train - 1} (the training split has {n_train} "
                f"samples), got {self.n_forget}."
            )
        mask = np.zeros(n_train, dtype=bool)
        if self.selection.scored:
            if scores is None or len(scores) != n_train:
                raise UnlearnBenchError(f"task.selection.by={self.selection.by} needs one score per training sample "
                                        "(experiment/setup.forget_split computes them).")
            mask[select_by_score(scores, self.n_forget, self.selection.level, self.selection.seed)] = True
        else:
            rng = np.random.default_rng(self.seed)
            mask[rng.choice(n_train, size=self.n_forget, replace=False)] = True
        none_val = np.zeros(len(data.val), dtype=bool)
        none_test = np.zeros(len(data.test), dtype=bool)
        return _split_by_mask(self.name, self.selection.describe(self.n_forget), data, mask, none_val, none_test)
