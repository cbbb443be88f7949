"""Nothing non-finite enters or leaves the stores: a training that diverges stores nothing and says
which key to change; a stored entry with NaN (written by older code, its checksum valid) is recomputed."""

from __future__ import annotations

import logging

import pytest
import torch

from cli_helpers import finish, start
from unlearn_bench.cache.tensor_file import non_finite_count, write_tensor_file
from unlearn_bench.cache.tensor_store import TensorStore
from unlearn_bench.training.store import ModelStore
from unlearn_bench.utils.errors import UnlearnBenchError


def test_non_finite_count_counts_floating_tensors_with_a_nan_or_inf():
    tensors = {"a": torch.tensor([1.0, float("nan")]), "b": torch.tensor([float("inf")]), "c": torch.ones(2),
               "steps": torch.tensor([3])}
    assert non_finite_count(tensors) == (2, 3)


def linear():
    torch.manual_seed(0)
    return torch.nn.Linear(2, 2)


def test_a_training_that_ends_non_finite_stores_nothing_and_names_the_key_to_change(tmp_path):
    store = ModelStore(tmp_path)

    def diverge(net):
        with torch.no_grad():
            net.weight.fill_(float("nan"))
        return {}

    with pytest.raises(UnlearnBenchError, match=r"^training the gold model ended with non-finite weights \(1 of 2 "
                                                r"tensors\), so nothing was stored: lower training.optimizer.lr"):
        store.get_or_train({"role": "gold"}, linear, diverge)
    assert not list(tmp_path.glob("*.safetensors"))


def test_a_stored_entry_with_non_finite_values_is_recomputed_with_a_warning(tmp_path, caplog):
    store = ModelStore(tmp_path)
    _, info = store.get_or_train({"role": "original"}, linear, lambda net: {})
    poisoned = {k: v.clone() for k, v in linear().state_dict().items()}
    poisoned["bias"][0] = float("nan")
    write_tensor_file(store.path(info["key"]), poisoned, {"meta": {}})  # a valid file, checksum and all
    trained = []
    caplog.set_level(logging.WARNING)
    net, again = store.get_or_train({"role": "original"}, linear, lambda net: trained.append(1) or {})
    assert trained == [1] and not again["cache_hit"]
    assert "is unusable (1 of 2 tensors hold non-finite values); recomputing it." in caplog.text
    assert torch.isfinite(net.bias).all()


def test_importances_with_non_finite_values_are_recomputed(tmp_path):
    store = TensorStore(tmp_path, "importances")
    store.write("k", {"w": torch.tensor([float("nan")])}, {})
    tensors, _, hit = store.get_or_create("k", lambda: ({"w": torch.tensor([1.0])}, {}))
    assert not hit and tensors["w"].item() == 1.0


def test_cli_a_diverging_training_exits_2_with_one_line_and_stores_nothing(tmp_path):
    code, _, err = finish(start(tmp_path, "training.optimizer.lr=10000", "method=baseline"))
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(
        "error: training the original model ended with non-finite weights (")
    cache = tmp_path / ".cache" / "unlearn_bench"
    assert not list((cache / "models").glob("*.safetensors")) and not any((cache / "checkpoints").iterdir())
