"""Lightning checkpoints of a training that goes into the model store: `last.ckpt` after every epoch
and the best epoch on validation, in a folder named by the model's store key. A training started
again with the same key resumes from `last.ckpt`; once the store holds the weights the folder goes."""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

from unlearn_bench.cache.files import content_key
from unlearn_bench.utils.errors import UnlearnBenchError

log = logging.getLogger("unlearn_bench.training")

LAST = "last.ckpt"
MONITOR = "val_acc"


class CheckpointDisk:
    """Whether a training's checkpoint folder still takes writes (shared by its checkpoint callbacks)."""

    def __init__(self):
        self.failed = False


class DiskSafeCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint that, when the disk refuses a checkpoint (full, read-only), removes the
    partial file, warns once naming it, and lets the training go on without checkpoints."""

    def __init__(self, *args, disk: CheckpointDisk, **kwargs):
        super().__init__(*args, **kwargs)
        self.disk = disk

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        if self.disk.failed:
            return
        try:
            super()._save_checkpoint(trainer, filepath)
        except OSError as err:
            self.disk.failed = True
            Path(filepath).unlink(missing_ok=True)
            log.warning("Cannot write the training checkpoint %s (%s): training goes on without checkpoints "
                        "(an interruption now cannot resume).", filepath, err.strerror or err)


def checkpoint_callbacks(directory: Path) -> tuple[ModelCheckpoint, ModelCheckpoint]:
    """(best, last): the best epoch so far (the first of equals, as KeepBestState) and last.ckpt after
    every epoch. Two callbacks: Lightning's save_last writes only in epochs where the best changed."""
    disk = CheckpointDisk()
    best = DiskSafeCheckpoint(dirpath=directory, filename="best-{epoch}", monitor=MONITOR, mode="max", save_top_k=1,
                              save_on_train_epoch_end=True, enable_version_counter=False, disk=disk)
    last = DiskSafeCheckpoint(dirpath=directory, filename=LAST.removesuffix(".ckpt"), save_top_k=1,
                              save_on_train_epoch_end=True, enable_version_counter=False, disk=disk)
    return best, last


def writable_folder(directory: Path) -> OSError | None:
    """None when `directory` can be created and written to; else the OSError that says why not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        return err
    return None


# the keys of a checkpoint of this suite's trainings (Lightning's, and the suite's own "rng")
CHECKPOINT_KEYS = ("pytorch-lightning_version", "state_dict", "epoch", "optimizer_states", "rng")
UNUSABLE = ".unusable"


def checkpoint_problem(path: Path) -> str | None:
    """Why `path` cannot be resumed from (None when it can): cut short, not a checkpoint, or not ours.
    Read with weights_only=True, so a crafted pickle is refused, never run."""
    if not zipfile.is_zipfile(path):
        return "is damaged (cut short while being written, or not a checkpoint)"
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to load means "not resumable"
        return f"cannot be loaded safely ({type(err).__name__})"
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        return f"is not a checkpoint of this suite's training (no {missing[0]!r})"
    return None


def resume_path(directory: Path, name: str) -> str | None:
    """`last.ckpt` of an earlier, interrupted training, if there is a whole one of ours. An unusable
    one is set aside (its folder renamed `<folder>.unusable`, replacing an earlier one) and training
    starts from the beginning."""
    directory = Path(directory)
    last = directory / LAST
    if not last.is_file():
        return None
    problem = checkpoint_problem(last)
    if problem is not None:
        aside = directory.with_name(directory.name + UNUSABLE)
        shutil.rmtree(aside, ignore_errors=True)
        try:
            directory.rename(aside)
            where = f"set aside in {aside}"
        except OSError:
            shutil.rmtree(directory, ignore_errors=True)
            where = "removed"
        log.warning("%s: %s %s; it was %s and training starts from the beginning.", name, last, problem, where)
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
                           keep: bool = False, identity: dict | None = None) -> tuple[nn.Module, dict]:
    """`store.get_or_train` (`identity` passed on) whose training checkpoints into `root/<store key>/`
    (root None: none); the folder is removed once the store has the weights unless `keep`."""
    if root is None:
        return store.get_or_train(material, build, lambda net: fit(net, None), identity)
    directory = Path(root) / content_key(material)
    if not store.path(content_key(material)).exists():  # to be trained: its checkpoints need a folder
        problem = writable_folder(directory)
        if problem is not None:
            log.warning("Cannot write training checkpoints to %s (%s): training without them (an interruption "
                        "cannot resume).", problem.filename or directory, problem.strerror or problem)
            return store.get_or_train(material, build, lambda net: fit(net, None), identity)
    try:
        net, info = store.get_or_train(material, build, lambda net: fit(net, directory), identity)
    except UnlearnBenchError:  # e.g. a diverged training: its checkpoints would only resume the divergence
        shutil.rmtree(directory, ignore_errors=True)
        raise
    if not keep:
        shutil.rmtree(directory, ignore_errors=True)
    return net, info
