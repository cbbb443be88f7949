"""Sequential forget requests: K disjoint requests in turn on one model, each scored against the
gold model retrained without everything forgotten so far."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from unlearn_bench.data.forget import ClassTask, RandomTask
from unlearn_bench.experiment.runner import run
from unlearn_bench.experiment.sequential import _weights_digest, cumulative_splits
from unlearn_bench.experiment.setup import indices_digest, load_data
from unlearn_bench.importance.store import ImportanceStore
from unlearn_bench.methods.ssd import SSD
from unlearn_bench.metrics.split_metrics import chance_level_warning
from unlearn_bench.training.store import ModelStore
from unlearn_bench.utils.errors import UnlearnBenchError, build

SMALL = ["dataset.train_subset=300", "dataset.test_subset=200", "training.epochs=1", "training.milestones=[]"]


def test_three_random_requests_end_to_end_with_golds_excluding_all_earlier_forget_sets(make_cfg, tmp_path):
    cfg = make_cfg("task=random", "task.requests=3", "task.n_forget=20", "method=finetune", "method.epochs=1", *SMALL)
    record = run(cfg)
    steps = record["sequence"]
    assert [s["request"] for s in steps] == [1, 2, 3] and record["requests"] == 3
    assert [s["split"]["forget_train"] for s in steps] == [20, 40, 60]
    assert [s["split"]["request_forget_train"] for s in steps] == [20, 20, 20]
    alone, together = cumulative_splits(build(cfg.task), load_data(cfg))
    for k, step in enumerate(steps):
        # the gold model of request k was trained without requests 1..k: its stored material says so
        _, stored = ModelStore(tmp_path / ".cache/unlearn_bench/models").store.read(step["gold_model"])
        forgotten = np.sort(np.concatenate([a.forget_idx for a in alone[: k + 1]]))
        assert stored["material"]["role"] == "gold" and stored["material"]["forget"] == indices_digest(forgotten)
        assert not np.isin(forgotten, together[k].retain_idx).any()
        assert step["metrics"]["gold"]["forget_train_acc"] is not None and "js_to_gold" in step["lenses"]
    assert len({s["gold_model"] for s in steps}) == 3
    assert record["paper_columns"] == steps[-1]["paper_columns"]
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(saved["sequence"]) == 3
    # the model after the last request is saved like a single run's
    assert saved["artifacts"]["unlearned_model"] == "unlearned_model.safetensors"
    card = json.loads((tmp_path / "out" / "unlearned_model.json").read_text())
    assert card["method"] == "finetune" and card["forget"] == record["forget"]


def test_class_requests_are_the_next_classes_and_disjoint(make_cfg):
    data = load_data(make_cfg(*SMALL))
    alone, together = cumulative_splits(ClassTask(forget="4", requests=3), data)
    assert [a.target for a in alone] == ["4", "5", "6"] and together[2].target == "4 + 5 + 6"
    labels = data.train.targets.numpy()
    assert set(labels[together[2].forget_idx]) == {4, 5, 6} and not set(labels[together[2].retain_idx]) & {4, 5, 6}
    assert set(labels[alone[1].forget_idx]) == {5} and not set(labels[alone[1].retain_idx]) & {4, 5}
    test_labels = data.test.targets.numpy()
    assert not set(test_labels[together[1].test_retain_idx]) & {4, 5}
    with pytest.raises(UnlearnBenchError, match="task.requests"):
        cumulative_splits(ClassTask(forget="4", requests=10), data)
    with pytest.raises(UnlearnBenchError, match="task.requests"):
        cumulative_splits(RandomTask(n_forget=100, requests=3), data)


@pytest.mark.parametrize("recompute", [False, True])
def test_ssd_recomputes_importances_on_the_current_model_and_shrinking_set_only_when_asked(
        make_cfg, tmp_path, monkeypatch, recompute):
    passes, outputs = [], []  # every importance pass SSD makes; every model SSD hands back
    compute, unlearn = SSD.importance, SSD.unlearn

    def spy_importance(self, model, ctx, dataset, desc):
        passes.append((desc, _weights_digest(model), len(dataset)))
        return compute(self, model, ctx, dataset, desc)

    def spy_unlearn(self, model, ctx):
        model = unlearn(self, model, ctx)
        outputs.append(_weights_digest(model))
        return model

    monkeypatch.setattr(SSD, "importance", spy_importance)
    monkeypatch.setattr(SSD, "unlearn", spy_unlearn)
    cfg = make_cfg("task=random", "task.requests=3", "task.n_forget=20", "method=ssd",
                   f"sequential.recompute_importance={str(recompute).lower()}", *SMALL)
    steps = run(cfg)["sequence"]
    n_train = len(load_data(cfg).train)
    assert steps[0]["method_report"]["params_changed"] > 0  # request 1 changed the model

    train_passes = [p for p in passes if p[0] == "importance []_D"]
    keys = [s["method_report"]["importance_key"] for s in steps]
    stored = ImportanceStore(tmp_path / ".cache/unlearn_bench/importance")
    if recompute:
        # request k: []_D of the model request k-1 returned, over the samples not forgotten before k
        original = train_passes[0][1]
        assert [p[1] for p in train_passes] == [original, *outputs[:2]]
        assert [p[2] for p in train_passes] == [n_train, n_train - 20, n_train - 40]
        assert len(set(keys)) == 3 and [s["method_report"]["importance_cache_hit"] for s in steps] == [False] * 3
        first, second = (stored.store.read(k)[0] for k in keys[:2])
        assert any(not torch.equal(first[name], second[name]) for name in first)
    else:
        # one []_D pass, on the original over the whole training set; requests 2 and 3 read it back
        assert train_passes == [train_passes[0]] and train_passes[0][2] == n_train
        assert len(set(keys)) == 1 and [s["method_report"]["importance_cache_hit"] for s in steps] == [False, True, True]
    # []_Df is always a fresh pass on the current model
    assert [p[1] for p in passes if p[0] == "importance []_Df"][1:] == outputs[:2]


def test_a_request_that_destroys_the_model_is_flagged_per_step_and_in_the_record(make_cfg):
    cfg = make_cfg("task=random", "task.requests=2", "task.n_forget=20", "method=neggrad_plus", "method.alpha=0.01",
                   "method.lr=10.0", "method.epochs=1", "method.model_mode=train", "method.pull_weight_decay=0",
                   "method.forget_batch_size=128", *SMALL)  # the train-mode loop: chance level, not NaN
    record = run(cfg)
    for step in record["sequence"]:
        assert step["warnings"] == [chance_level_warning(step["metrics"]["unlearned"]["test_acc"], 10)]
    assert record["warnings"] == [f"request {s['request']}: {s['warnings'][0]}" for s in record["sequence"]]


def test_population_lenses_on_a_sequence_are_refused_before_any_training(make_cfg, tmp_path):
    with pytest.raises(UnlearnBenchError, match="score one forget request"):
        run(make_cfg("task=random", "task.requests=2", "method=baseline", "lenses.klom.enabled=true"))
    assert not (tmp_path / ".cache").exists()
