"""Training checkpoints: a training killed mid-way resumes from last.ckpt to exactly the weights of an
uninterrupted one; the best epoch is the one KeepBestState picks; the per-epoch progress line."""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import signal
import time

import lightning as L
import pytest
import torch
from torchvision.transforms import v2

from cli_helpers import finish, start
from unlearn_bench.data.base import ImageDataset
from unlearn_bench.data.digits import load_digits
from unlearn_bench.data.prepare import prepare
from unlearn_bench.data.transforms import TransformSpec
from unlearn_bench.experiment.runner import run
from unlearn_bench.models.cnn import SmallCNN
from unlearn_bench.training.module import ClassifierModule, Recipe, fit_classifier

# batched augmentations: the resumed run must continue their random stream, not restart it
SPEC = TransformSpec((0.305,), (0.376,), augmentations=(v2.RandomCrop(8, padding=1), v2.RandomHorizontalFlip()))
# a multistep schedule with warm-up: the resumed run must continue the LR schedule too
RECIPE = Recipe(functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9, weight_decay=5e-4), epochs=5,
                batch_size=32, milestones=[3], warmup_epochs=1)
TRAINER = {"accelerator": "cpu", "devices": 1, "precision": "32-true", "enable_progress_bar": False}


@pytest.fixture(scope="module")
def digits():
    data = prepare(load_digits(), train_subset=200, test_subset=60, val_fraction=0.2, seed=0)
    return ImageDataset(data.train, spec=SPEC, augment=True), ImageDataset(data.val, spec=SPEC)


def train(digits, checkpoint_dir=None):
    torch.manual_seed(0)
    net = SmallCNN(1, 10, 8)
    info = fit_classifier(net, *digits, RECIPE, TRAINER, seed=0, checkpoint_dir=checkpoint_dir, name="original")
    return net, info


class Killed(RuntimeError):
    pass


def last_state(directory):
    return torch.load(directory / "last.ckpt", map_location="cpu", weights_only=True)


def test_a_killed_training_resumes_to_the_same_weights(digits, tmp_path, monkeypatch, caplog, one_thread):
    whole, whole_info = train(digits, tmp_path / "whole")

    real_step = ClassifierModule.training_step

    def dies_in_epoch_2(self, batch, batch_idx):
        if self.current_epoch == 2 and batch_idx == 1:
            raise Killed("killed")
        return real_step(self, batch, batch_idx)

    monkeypatch.setattr(ClassifierModule, "training_step", dies_in_epoch_2)
    with pytest.raises(Killed):
        train(digits, tmp_path / "killed")
    assert last_state(tmp_path / "killed")["epoch"] == 1  # epochs 0 and 1 finished
    monkeypatch.setattr(ClassifierModule, "training_step", real_step)

    caplog.set_level(logging.INFO)
    resumed, resumed_info = train(digits, tmp_path / "killed")
    assert resumed_info["resumed"] and not whole_info["resumed"]
    assert "original: resuming the interrupted training from" in caplog.text
    assert "original: resumed from" in caplog.text and "at epoch 3/5" in caplog.text
    # the best epoch's weights (what the model store gets) are identical ...
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert resumed_info["best_epoch"] == whole_info["best_epoch"]
    assert resumed_info["best_val_acc"] == whole_info["best_val_acc"]
    # ... and so is the last epoch's state, optimizer included (the epochs after the kill ran identically)
    whole_last, resumed_last = last_state(tmp_path / "whole"), last_state(tmp_path / "killed")
    assert whole_last["epoch"] == resumed_last["epoch"] == 4
    for name, tensor in whole_last["state_dict"].items():
        assert torch.equal(tensor, resumed_last["state_dict"][name]), name
    whole_momenta = whole_last["optimizer_states"][0]["state"]
    for key, state in resumed_last["optimizer_states"][0]["state"].items():
        assert torch.equal(state["momentum_buffer"], whole_momenta[key]["momentum_buffer"])


def test_checkpointed_training_picks_the_epoch_kept_in_memory(digits, tmp_path, one_thread):
    in_memory, memory_info = train(digits)
    checkpointed, ckpt_info = train(digits, tmp_path / "ckpt")
    assert (ckpt_info["best_epoch"], ckpt_info["best_val_acc"]) == (memory_info["best_epoch"], memory_info["best_val_acc"])
    for a, b in zip(in_memory.state_dict().values(), checkpointed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [f"best-epoch={ckpt_info['best_epoch']}.ckpt",
                                                                    "last.ckpt"]


class Crafted:
    """Unpickling this would run code: a checkpoint must be read without running it."""

    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('RAN').write_text('ran')",))


def _write_cut_short(path):
    path.write_bytes(b"cut short")


def _write_crafted_pickle(path):
    torch.save({"state_dict": Crafted()}, path)


def _write_foreign_zip(path):
    torch.save({"model": torch.zeros(2)}, path)  # a torch zip, but no Lightning checkpoint


@pytest.mark.parametrize(("write", "problem"), [
    (_write_cut_short, "is damaged (cut short while being written, or not a checkpoint)"),
    (_write_crafted_pickle, "cannot be loaded safely (UnpicklingError)"),
    (_write_foreign_zip, "is not a checkpoint of this suite's training (no 'pytorch-lightning_version')"),
])
def test_an_unusable_last_checkpoint_is_set_aside_and_training_starts_afresh(digits, tmp_path, caplog, one_thread,
                                                                           monkeypatch, write, problem):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ckpt").mkdir()
    write(tmp_path / "ckpt" / "last.ckpt")
    caplog.set_level(logging.INFO)
    _, info = train(digits, tmp_path / "ckpt")
    _, fresh = train(digits)
    assert not info["resumed"] and info["best_val_acc"] == fresh["best_val_acc"]
    aside = tmp_path / "ckpt.unusable"
    assert (f"{tmp_path / 'ckpt' / 'last.ckpt'} {problem}; it was set aside in {aside} and training starts "
            "from the beginning.") in caplog.text
    assert (aside / "last.ckpt").is_file() and not (tmp_path / "RAN").exists()


def test_every_epoch_logs_a_progress_line_with_bars_off(digits, caplog, one_thread):
    caplog.set_level(logging.INFO, logger="unlearn_bench.training")
    train(digits)
    lines = [r.getMessage() for r in caplog.records if "original: epoch" in r.getMessage()]
    assert [line.split(" · ")[0] for line in lines] == [f"original: epoch {i}/5" for i in range(1, 6)]
    assert all("train loss" in line and "val acc" in line and "ETA" in line for line in lines)
    assert lines[-1].endswith("ETA 0.0 s")


def test_a_run_killed_in_training_resumes_from_its_checkpoint_folder(make_cfg, tmp_path, monkeypatch, caplog,
                                                                      one_thread):
    tiny = ("method=baseline", "dataset.train_subset=300", "dataset.test_subset=100")
    whole = run(make_cfg(*tiny, f"paths.root_dir={tmp_path}/whole"))
    real_step = ClassifierModule.training_step

    def dies_in_epoch_2(self, batch, batch_idx):
        if self.current_epoch == 2:
            raise Killed("killed")
        return real_step(self, batch, batch_idx)

    monkeypatch.setattr(ClassifierModule, "training_step", dies_in_epoch_2)
    with pytest.raises(Killed):
        run(make_cfg(*tiny))
    folders = list((tmp_path / ".cache" / "unlearn_bench" / "checkpoints").iterdir())
    assert len(folders) == 1 and (folders[0] / "last.ckpt").is_file()
    monkeypatch.setattr(ClassifierModule, "training_step", real_step)

    caplog.set_level(logging.INFO)
    resumed = run(make_cfg(*tiny, "save.training_checkpoints=true"))
    assert f"original: resuming the interrupted training from {folders[0] / 'last.ckpt'}" in caplog.text
    assert resumed["models"]["original"]["key"] == folders[0].name
    assert resumed["models"]["original"]["resumed"] and not resumed["models"]["gold"]["resumed"]
    assert resumed["metrics"] == whole["metrics"]
    kept = sorted(p.name for p in (tmp_path / ".cache" / "unlearn_bench" / "checkpoints").iterdir())
    assert kept == sorted([resumed["models"]["original"]["key"], resumed["models"]["gold"]["key"]])
    assert not any((tmp_path / "whole" / ".cache" / "unlearn_bench" / "checkpoints").iterdir())  # removed


def test_a_run_stopped_by_sigterm_resumes_on_the_next_invocation(tmp_path):
    """The real thing: SIGTERM (Slurm's time limit) during the original model's training, then the same command."""
    log = tmp_path / "first" / "__main__.log"
    proc = start(tmp_path, "method=baseline", "training.epochs=40", f"hydra.run.dir={tmp_path}/first")
    deadline = time.monotonic() + 600
    while not (log.exists() and "original: epoch 2/40" in log.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, finish(proc)[2][-3000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert finish(proc)[0] == 128 + signal.SIGTERM
    code, _, err = finish(start(tmp_path, "method=baseline", "training.epochs=40", f"hydra.run.dir={tmp_path}/second"))
    assert code == 0, err[-3000:]
    second = (tmp_path / "second" / "__main__.log").read_text()
    assert "original: resuming the interrupted training from" in second and "original: epoch 1/40" not in second
    assert json.loads((tmp_path / "second" / "results.json").read_text())["models"]["original"]["resumed"]


def test_a_disk_that_fills_during_training_leaves_no_partial_checkpoint_and_keeps_the_best_epoch(
        digits, tmp_path, monkeypatch, caplog, one_thread):
    in_memory, memory_info = train(digits)
    real_save = L.Trainer.save_checkpoint

    def fills_from_epoch_2(self, filepath, *args, **kwargs):
        if self.current_epoch >= 2:
            with open(filepath, "wb") as f:
                f.write(b"PK\x03\x04 truncated")  # what a full disk leaves of a checkpoint
            raise OSError(errno.ENOSPC, "No space left on device", str(filepath))
        return real_save(self, filepath, *args, **kwargs)

    monkeypatch.setattr(L.Trainer, "save_checkpoint", fills_from_epoch_2)
    caplog.set_level(logging.WARNING)
    net, info = train(digits, tmp_path / "ckpt")
    assert (info["best_val_acc"], info["best_epoch"]) == (memory_info["best_val_acc"], memory_info["best_epoch"])
    for a, b in zip(net.state_dict().values(), in_memory.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    warnings = [r.getMessage() for r in caplog.records if "Cannot write the training checkpoint" in r.getMessage()]
    assert len(warnings) == 1 and "No space left on device" in warnings[0]
    assert not any("epoch=2" in p.name or "truncated" in p.read_bytes().decode("latin-1")
                   for p in (tmp_path / "ckpt").iterdir())


def test_a_checkpoint_folder_that_cannot_be_written_trains_without_checkpoints(tmp_path, monkeypatch, caplog):
    from unlearn_bench.training.checkpoints import get_or_train_resumable
    from unlearn_bench.training.store import ModelStore

    checkpoints = tmp_path / "readonly" / "checkpoints"
    real_mkdir = os.mkdir

    def read_only(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "readonly")):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only)
    seen = []

    def fit(net, directory):
        seen.append(directory)
        return {"train_s": 0.0}

    caplog.set_level(logging.WARNING)
    store = ModelStore(tmp_path / "models")
    net, info = get_or_train_resumable(store, {"role": "original"}, lambda: torch.nn.Linear(2, 2), fit, checkpoints)
    assert seen == [None] and not info["cache_hit"]
    assert "Cannot write training checkpoints to" in caplog.text and "Read-only file system" in caplog.text
    assert store.path(info["key"]).is_file()  # the store itself still took the model
