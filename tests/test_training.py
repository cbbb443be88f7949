"""The training schedule and the model store."""

import pytest
import torch
from torch import nn

from unlearn_bench.training.module import lr_factor
from unlearn_bench.training.store import ModelStore, content_key


def test_lr_schedule_warms_up_then_steps_down():
    f = [lr_factor(s, steps_per_epoch=4, warmup_epochs=1, milestones=[2, 3], gamma=0.2) for s in range(16)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert f[4:8] == pytest.approx([1.0] * 4)
    assert f[8:12] == pytest.approx([0.2] * 4)
    assert f[12:] == pytest.approx([0.04] * 4)


def test_content_key_depends_on_content_only():
    assert content_key({"a": 1, "b": [1, 2]}) == content_key({"b": [1, 2], "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})


def _trainer(calls):
    def train(net):
        calls.append(1)
        with torch.no_grad():
            net.weight.fill_(len(calls))
        return {"train_s": 1.5}

    return train


def test_store_trains_once_then_hits(tmp_path):
    store, calls = ModelStore(tmp_path), []
    net, info = store.get_or_train({"m": 1}, lambda: nn.Linear(2, 2), _trainer(calls))
    assert not info["cache_hit"] and calls == [1]
    again, info2 = store.get_or_train({"m": 1}, lambda: nn.Linear(2, 2), _trainer(calls))
    assert info2["cache_hit"] and calls == [1]
    assert info2["train_s"] == 1.5 and info2["key"] == info["key"]
    assert torch.equal(again.weight, net.weight)


@pytest.mark.parametrize("damage", ["truncate", "bitflip", "garbage"])
def test_store_retrains_a_corrupt_checkpoint(tmp_path, damage, caplog):
    store, calls = ModelStore(tmp_path), []
    _, info = store.get_or_train({"m": 1}, lambda: nn.Linear(2, 2), _trainer(calls))
    path = store.path(info["key"])
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[:100])
    elif damage == "bitflip":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    else:
        path.write_bytes(b"not a checkpoint")
    net, info2 = store.get_or_train({"m": 1}, lambda: nn.Linear(2, 2), _trainer(calls))
    assert not info2["cache_hit"] and calls == [1, 1]
    assert f"Cached model {path} is unusable" in caplog.text
    assert torch.all(net.weight == 2.0)
