"""Methods see only what they declare: no gold model, no undeclared data, and a record of what they read."""

from __future__ import annotations

import copy

import pytest
import torch

from cheaters import CopiesGold, ReadsForget, ReadsRetain
from unlearn_bench.experiment.runner import run
from unlearn_bench.methods.base import UnlearnContext
from unlearn_bench.methods.context import DATA_ENTRIES, UndeclaredDataError, Withheld
from unlearn_bench.methods.retrain import Retrain
from unlearn_bench.utils.errors import UnlearnBenchError


def tiny_context() -> UnlearnContext:
    data = torch.utils.data.TensorDataset(torch.zeros(4, 1), torch.zeros(4, dtype=torch.long))
    return UnlearnContext(original=torch.nn.Linear(1, 2), forget_set=data, retain_set=data, train_set=data,
                          split=None, num_classes=2, device=torch.device("cpu"), seed=0,
                          build_model=lambda: torch.nn.Linear(1, 2), importance_store=None,
                          importance_material={}, retain_train_set=data, val_set=data)


def test_reading_the_gold_model_fails_clearly():
    ctx = tiny_context().for_method(CopiesGold())
    with pytest.raises(UnlearnBenchError, match=r"No method may read the gold model \(ctx.gold\)"):
        CopiesGold().unlearn(torch.nn.Linear(1, 2), ctx)
    with pytest.raises(UnlearnBenchError, match="gold_info"):
        ctx.gold_info  # noqa: B018


def test_undeclared_data_fails_naming_method_attribute_and_entry():
    method = ReadsRetain()
    ctx = tiny_context().for_method(method)
    with pytest.raises(UndeclaredDataError) as err:
        method.unlearn(torch.nn.Linear(1, 2), ctx)
    assert str(err.value) == (
        "Method reads_retain read ctx.retain_set, which needs 'retain' in its data_used (it declares "
        "'forget'): add 'retain' to reads_retain.data_used or do not read it.")
    assert ctx.reads == {"forget_set"}


def test_the_context_holds_no_undeclared_data():
    ctx = tiny_context().for_method(ReadsForget())
    for attr in DATA_ENTRIES["train_importance"]:
        assert isinstance(object.__getattribute__(ctx, attr), Withheld)
    assert object.__getattribute__(ctx, "retain_set") is not None
    with pytest.raises(UnlearnBenchError):
        _ = ctx.gold


def test_the_context_records_what_the_method_read():
    ctx = tiny_context().for_method(ReadsForget())
    ReadsForget().unlearn(torch.nn.Linear(1, 2), ctx)
    assert ctx.data_read() == ["forget"]
    assert ctx.original is not None and ctx.data_read() == ["forget"]  # free attributes are not data


def test_unknown_data_used_entry_is_refused():
    class Odd(ReadsForget):
        name = "odd"
        data_used = ("forget", "gold")

    with pytest.raises(UnlearnBenchError, match="unknown data_used entries"):
        tiny_context().for_method(Odd())


def test_retrain_all_is_produced_by_the_pipeline_only():
    with pytest.raises(UnlearnBenchError, match="the pipeline produces"):
        Retrain().unlearn(torch.nn.Linear(1, 2), tiny_context().for_method(Retrain()))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One model store for the pipeline runs below: the original and gold models train once."""
    return f"paths.cache_dir={tmp_path_factory.mktemp('cache')}"


def test_a_gold_copying_method_fails_through_run(make_cfg, cache):
    with pytest.raises(UnlearnBenchError, match="gold model"):
        run(make_cfg("method=custom", "+method._target_=cheaters.CopiesGold", cache))


def test_retrain_row_comes_from_the_gold_model(make_cfg, cache):
    record = run(make_cfg("method=retrain", cache))
    assert record["metrics"]["unlearned"] == record["metrics"]["gold"]
    assert record["distance_to_gold"] == 0.0
    assert record["method_report"]["produced_by"] == "pipeline"
    assert record["data_read"] == ["retain"]


def test_results_record_what_ssd_read(make_cfg, cache):
    record = run(make_cfg("method=ssd", cache))
    assert record["data_used"] == ["forget", "train_importance"]
    assert record["data_read"] == ["forget", "train_importance"]
    assert copy.deepcopy(record["protocol"]) == {"name": "ours", "importance_order": "class_sorted",
                                                 "importance_stored": True}


def test_build_model_does_not_lead_back_to_the_data(make_cfg, cache, monkeypatch):
    seen = {}

    def spy(self, model, ctx):
        seen["build_model"] = ctx.build_model
        return model

    monkeypatch.setattr(ReadsForget, "unlearn", spy)
    run(make_cfg("method=custom", "+method._target_=cheaters.ReadsForget", cache))
    assert not hasattr(seen["build_model"], "__self__")  # a bound method of the experiment would expose its data
    assert isinstance(seen["build_model"](), torch.nn.Module)
