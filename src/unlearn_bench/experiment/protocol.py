"""protocol=ours|official: the loader orders that differ between our benchmark and the official code.

The official code builds SSD's []_D loader per forget request as ConcatDataset((retain, forget)),
unshuffled: class forgetting lists the retained samples by class and the forgotten class last;
sub-class forgetting lists them by fine (sub-class) label; random forgetting keeps
torch.utils.data.random_split's permutation (retain part, then forget part), and its []_Df loader
keeps that permutation too. With the batch importance estimator the order decides which samples share
a mini-batch, so it changes which parameters are dampened. Ours sorts the whole training set by class,
independently of the request, so []_D is computed once per original model and stored; the official
order depends on the request and is never stored. Batch sizes, the MIA's C, Bad Teacher's KL reduction
and UNSIR's mode are plain config values set by conf/protocol/*.yaml."""

from __future__ import annotations

import numpy as np
import torch

from unlearn_bench.data.forget import ForgetSplit
from unlearn_bench.utils.errors import UnlearnBenchError

PROTOCOLS = ("ours", "official")
ORDERS = {"ours": "class_sorted", "official": "request"}


def class_sorted_order(targets: torch.Tensor | np.ndarray) -> np.ndarray:
    """Training indices sorted by label (stable): one []_D order for every request, so it is stored."""
    return np.argsort(np.asarray(targets), kind="stable")


def random_split_permutation(n: int, seed: int) -> np.ndarray:
    """The permutation torch.utils.data.random_split draws for `n` samples with a generator seeded `seed`."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()


def _by_label(idx: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return idx[np.argsort(labels[idx], kind="stable")]


def _in_order(order: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The members of `idx` in the order they appear in `order`."""
    return order[np.isin(order, idx)]


def official_train_order(split: ForgetSplit, targets: np.ndarray, fine_targets: np.ndarray | None,
                         seed: int) -> np.ndarray:
    """[]_D's official loader order for this request: retain part, then forget part (see module doc).
    For random forgetting both parts follow random_split's permutation (seeded `seed`); it equals the
    official order exactly when the forget samples are the permutation's first ones, as random_split
    draws them (our task draws an equally uniform sample with its own generator)."""
    forget, retain = np.asarray(split.forget_idx), np.asarray(split.retain_idx)
    if split.task == "class":
        return np.concatenate([_by_label(retain, np.asarray(targets)), forget])
    if split.task == "subclass":
        if fine_targets is None:
            raise UnlearnBenchError("protocol=official sub-class forgetting needs fine labels (dataset=cifar20, or "
                                    "dataset.superclasses=...).")
        return np.concatenate([_by_label(retain, np.asarray(fine_targets)), forget])
    perm = random_split_permutation(len(forget) + len(retain), seed)
    return np.concatenate([_in_order(perm, retain), _in_order(perm, forget)])


def official_forget_order(split: ForgetSplit, seed: int) -> np.ndarray:
    """[]_Df's official loader order: dataset order, except random forgetting (random_split's)."""
    forget = np.asarray(split.forget_idx)
    if split.task != "random":
        return forget
    return _in_order(random_split_permutation(len(forget) + len(split.retain_idx), seed), forget)


def check_protocol(name: str) -> str:
    if name not in PROTOCOLS:
        raise UnlearnBenchError(f"protocol.name must be one of {', '.join(PROTOCOLS)}, got {name!r}.")
    return name


def loader_orders(protocol: str, split: ForgetSplit, targets, fine_targets, seed: int) -> dict:
    """The training-index orders of []_D (`train`) and []_Df (`forget`), and the []_D order's name."""
    targets = np.asarray(targets)
    fine = None if fine_targets is None else np.asarray(fine_targets)
    if check_protocol(protocol) == "ours":
        return {"train": class_sorted_order(targets), "forget": np.asarray(split.forget_idx),
                "name": ORDERS["ours"]}
    return {"train": official_train_order(split, targets, fine, seed),
            "forget": official_forget_order(split, seed), "name": ORDERS["official"]}
