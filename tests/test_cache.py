"""The caches (models, importances): tensors only, validated on load, shared safely, degrade gracefully."""

from __future__ import annotations

import hashlib
import os
import pickle

import pytest
import torch
from torch import nn

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
