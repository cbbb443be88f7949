"""Lightning checkpoints of a training that goes into the model store: `last.ckpt` after every epoch
and the best epoch on validation, in a folder named by the model's store key. A training started
again with the same key resumes from `last.ckpt`; once the store holds the weights the folder goes."""

from __future__ import annotations

import logging
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

from unlearn_bench.cache.files import content_key

log = logging.getLogger("unlearn_bench.training")

LAST = "last.ckpt"
MONITOR = "val_acc"


def checkpoint_callbacks(directory: Path) -> tuple[ModelCheckpoint, ModelCheckpoint]:
    """(best, last): the best epoch so far (the first of equals, as KeepBestState) and last.ckpt after
    every epoch. Two callbacks: Lightning's save_last writes only in epochs where the best changed."""
    best = ModelCheckpoint(dirpath=directory, filename="best-{epoch}", monitor=MONITOR, mode="max", save_top_k=1,
                           save_on_train_epoch_end=True, enable_version_counter=False)
    last = ModelCheckpoint(dirpath=directory, filename=LAST.removesuffix(".ckpt"), save_top_k=1,
                           save_on_train_epoch_end=True, enable_version_counter=False)
    return best, last


def resume_path(directory: Path, name: str) -> str | None:
    """`last.ckpt` of an earlier, interrupted training, if there is a whole one."""
    last = Path(directory) / LAST
    if not last.is_file():
        return None
    if not zipfile.is_zipfile(last):  # cut short while being written
        log.warning("%s: %s is damaged; training from the start.", name, last)
        shutil.rmtree(directory, ignore_errors=True)
        return None
    log.info("%s: resuming the interrupted training from %s.", name, last)
    return str(last)


def load_best(net: nn.Module, callback: ModelCheckpoint) -> tuple[float, int] | None:
    """Put the best epoch's weights into `net`; (its val acc, its epoch), or None when none was saved."""
    path = callback.best_model_path
    if not path or not Path(path).is_file():
        return None
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = {k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}
    net.load_state_dict(state)
    return float(checkpoint["val_acc"]), int(checkpoint["epoch"])


def get_or_train_resumable(store, material: dict, build: Callable[[], nn.Module],
                           fit: Callable[[nn.Module, Path], dict], root: str | Path | None,
                           keep: bool = False) -> tuple[nn.Module, dict]:
    """`store.get_or_train` whose training checkpoints into `root/<store key>/` (root None: none);
    the folder is removed once the store has the weights unless `keep`."""
    if root is None:
        return store.get_or_train(material, build, lambda net: fit(net, None))
    directory = Path(root) / content_key(material)
    net, info = store.get_or_train(material, build, lambda net: fit(net, directory))
    if not keep:
        shutil.rmtree(directory, ignore_errors=True)
    return net, info
