"""The caches (models, importances): tensors only, validated on load, shared safely, degrade gracefully."""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import subprocess
import sys

import pytest
import torch
from torch import nn

from unlearn_bench.cache import files
from unlearn_bench.cache.files import content_key
from unlearn_bench.cache.tensor_file import write_tensor_file
from unlearn_bench.importance import ImportanceStore
from unlearn_bench.training.store import ModelStore


class _Payload:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _fill(calls):
    def train(net):
        calls.append(1)
        with torch.no_grad():
            net.weight.fill_(len(calls))
        return {"train_s": 1.0}

    return train


def test_a_crafted_pickle_in_the_cache_is_never_executed(tmp_path, caplog):
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Payload(marker))
    assert not marker.exists()
    store, calls = ModelStore(tmp_path / "models"), []
    key = content_key({"m": 1})
    store.root.mkdir()
    # the old format (torch.save pickle + sha256 sidecar) and the new file name both hold the payload
    (store.root / f"{key}.pt").write_bytes(evil)
    (store.root / f"{key}.pt.sha256").write_text(hashlib.sha256(evil).hexdigest())
    store.path(key).write_bytes(evil)
    net, info = store.get_or_train({"m": 1}, lambda: nn.Linear(2, 2), _fill(calls))
    assert not marker.exists()
    assert calls == [1] and not info["cache_hit"] and torch.all(net.weight == 1.0)
    assert f"Cached model {store.path(key)} is unusable" in caplog.text

    imp = ImportanceStore(tmp_path / "importance")
    imp.path(key).parent.mkdir()
    imp.path(key).write_bytes(evil)
    got, info = imp.get_or_compute({"m": 1}, lambda: {"weight": torch.ones(2, 2)}, like=nn.Linear(2, 2, bias=False))
    assert not marker.exists() and not info["cache_hit"] and torch.equal(got["weight"], torch.ones(2, 2))


def test_an_old_format_entry_alone_is_recomputed_with_a_warning(tmp_path, caplog):
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Payload(marker))
    store, calls = ModelStore(tmp_path / "models"), []
    key = content_key({"m": 1})
    store.root.mkdir()
    (store.root / f"{key}.pt").write_bytes(evil)
    (store.root / f"{key}.pt.sha256").write_text(hashlib.sha256(evil).hexdigest())
    net, info = store.get_or_train({"m": 1}, lambda: nn.Linear(2, 2), _fill(calls))
    assert not marker.exists() and calls == [1] and not info["cache_hit"]
    assert f"Cached model {store.root / f'{key}.pt'} is in the old .pt format" in caplog.text


@pytest.mark.parametrize("stored", ["wrong_shapes", "no_state_dict", "wrong_dtype"])
def test_a_model_entry_of_another_layout_is_retrained_with_a_warning(tmp_path, stored, caplog):
    store, calls = ModelStore(tmp_path), []
    key = content_key({"m": 1})
    tensors = {"wrong_shapes": nn.Linear(3, 3).state_dict(),
               "no_state_dict": {"something_else": torch.zeros(2)},
               "wrong_dtype": nn.Linear(2, 2).double().state_dict()}[stored]
    write_tensor_file(store.path(key), tensors, {"meta": {"train_s": 9.0}})
    net, info = store.get_or_train({"m": 1}, lambda: nn.Linear(2, 2), _fill(calls))
    assert calls == [1] and not info["cache_hit"] and info["train_s"] == 1.0
    assert f"Cached model {store.path(key)} is unusable" in caplog.text
    again, info = store.get_or_train({"m": 1}, lambda: nn.Linear(2, 2), _fill(calls))
    assert calls == [1] and info["cache_hit"] and torch.all(again.weight == 1.0)


def test_importances_that_would_broadcast_are_recomputed(tmp_path, caplog):
    """A scalar per tensor broadcasts against its parameter: it must never be used."""
    net = nn.Linear(3, 2)
    store = ImportanceStore(tmp_path)
    material = {"original": "k"}
    write_tensor_file(store.path(content_key(material)), {"weight": torch.tensor(1.0), "bias": torch.tensor(1.0)},
                      {"material": material})
    exact = {"weight": torch.full((2, 3), 2.0), "bias": torch.full((2,), 3.0)}
    got, info = store.get_or_compute(material, lambda: exact, like=net)
    assert not info["cache_hit"] and "is unusable (weight is () torch.float32, expected (2, 3)" in caplog.text
    assert {n: t.shape for n, t in got.items()} == {"weight": (2, 3), "bias": (2,)}
    again, info = store.get_or_compute(material, lambda: pytest.fail("recomputed"), like=net)
    assert info["cache_hit"] and torch.equal(again["weight"], exact["weight"])


WORKER = """
import sys, time, torch
from torch import nn
from unlearn_bench.training.store import ModelStore

def train(net):
    with open(sys.argv[2], "a") as f:
        f.write("trained\\n")
    time.sleep(1.0)
    with torch.no_grad():
        net.weight.fill_(7.0)
    return {"train_s": 1.0}

net, info = ModelStore(sys.argv[1]).get_or_train({"m": 1}, lambda: nn.Linear(2, 2), train)
print(info["cache_hit"], float(net.weight.sum()))
"""


def test_four_concurrent_processes_train_the_same_model_once(tmp_path):
    script, log = tmp_path / "worker.py", tmp_path / "trainings.log"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "models"), str(log)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-2000:] for _, err in outputs]
    assert log.read_text() == "trained\n"
    assert sorted(out.split()[0] for out, _ in outputs) == ["False", "True", "True", "True"]
    assert {out.split()[1] for out, _ in outputs} == {"28.0"}


def _read_only(path, monkeypatch):
    """Make `path` read-only; as root (who ignores permissions) also refuse writes below it."""
    path.chmod(0o555)
    if os.geteuid() != 0:
        return
    inside = str(path) + os.sep
    real_open, real_mkdir = os.open, os.mkdir

    def guarded(real):
        def call(target, *args, **kwargs):
            if str(target).startswith(inside):
                raise PermissionError(errno.EACCES, "Permission denied", str(target))
            return real(target, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "open", guarded(real_open))
    monkeypatch.setattr(os, "mkdir", guarded(real_mkdir))


def test_a_read_only_cache_runs_without_storing_and_names_the_path(tmp_path, monkeypatch, caplog):
    warm = ModelStore(tmp_path / "cache" / "models")
    warm.get_or_train({"m": "stored"}, lambda: nn.Linear(2, 2), _fill([]))
    _read_only(warm.root, monkeypatch)
    _read_only(tmp_path / "cache", monkeypatch)
    try:
        calls = []
        net, info = ModelStore(tmp_path / "cache" / "models").get_or_train({"m": "new"}, lambda: nn.Linear(2, 2),
                                                                          _fill(calls))
        assert calls == [1] and not info["cache_hit"] and torch.all(net.weight == 1.0)
        assert f"Cannot write to the cache at {warm.root}" in caplog.text
        _, hit = ModelStore(warm.root).get_or_train({"m": "stored"}, lambda: nn.Linear(2, 2), _fill(calls))
        assert hit["cache_hit"] and calls == [1]
        imp, info = ImportanceStore(tmp_path / "cache" / "importance").get_or_compute(
            {"m": 1}, lambda: {"weight": torch.ones(2, 2)})
        assert not info["cache_hit"] and f"Cannot write to the cache at {tmp_path / 'cache' / 'importance'}" \
            in caplog.text
    finally:
        warm.root.chmod(0o755)
        (tmp_path / "cache").chmod(0o755)
    assert sorted(p.name for p in warm.root.iterdir() if not p.name.endswith(".lock")) == \
        [warm.path(content_key({"m": "stored"})).name]


def test_a_full_disk_keeps_the_trained_model_and_names_the_path(tmp_path, monkeypatch, caplog):
    def full(f, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "_write", full)
    store, calls = ModelStore(tmp_path), []
    net, info = store.get_or_train({"m": 1}, lambda: nn.Linear(2, 2), _fill(calls))
    assert calls == [1] and torch.all(net.weight == 1.0)
    path = store.path(info["key"])
    assert f"Cannot write to the cache at {path} (No space left on device)" in caplog.text
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_temporary_files_of_a_killed_writer_are_removed_and_entries_get_umask_permissions(tmp_path):
    store = ModelStore(tmp_path)
    key = content_key({"m": 1})
    stale = tmp_path / f".{store.path(key).name}.deadbeef.tmp"
    stale.write_bytes(b"half a file")
    old = os.umask(0o022)
    try:
        store.get_or_train({"m": 1}, lambda: nn.Linear(2, 2), _fill([]))
    finally:
        os.umask(old)
    assert not stale.exists()
    assert store.path(key).stat().st_mode & 0o777 == 0o644
