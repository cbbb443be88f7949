"""RUM: the memorization groups by hand, the order of its steps and each step's forget and retain sets
(main_forget.py --sequential: the groups to come stay in the retain set), and the command line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from unlearn_bench.methods.base import UnlearningMethod
from unlearn_bench.methods.rum import RUM, memorization_groups
from unlearn_bench.utils.errors import UnlearnBenchError


def test_groups_are_the_thirds_by_score_with_the_remainder_first():
    scores = np.array([0.9, 0.1, 0.5, 0.3, 0.8, 0.0, 0.6])  # ascending: 5, 1, 3 | 2, 6 | 4, 0
    groups = memorization_groups(scores, seed=0)
    assert {k: v.tolist() for k, v in groups.items()} == {"low": [1, 3, 5], "mid": [2, 6], "high": [0, 4]}


def test_tied_scores_split_by_the_seed():
    flat = np.zeros(30)
    splits = {s: tuple(memorization_groups(flat, seed=s)["high"]) for s in range(3)}
    assert len(set(splits.values())) > 1 and splits[1] == tuple(memorization_groups(flat, seed=1)["high"])


@dataclass
class Recorder(UnlearningMethod):
    """Adds its tag to a counter tensor and records the forget and retain indices it was given."""

    tag: float = 1.0
    seen: list = field(default_factory=list)
    name = "recorder"
    data_used = ("forget",)
    tasks = ("random",)

    def __post_init__(self):
        super().__init__()

    def unlearn(self, model, ctx):
        self.seen.append((ctx.split.forget_idx.tolist(), ctx.split.retain_idx.tolist()))
        model.weight.data.mul_(10).add_(self.tag)
        return model


@dataclass
class FakeSplit:
    forget_idx: np.ndarray
    retain_idx: np.ndarray


@dataclass
class FakeContext:
    """The two services RUM uses, on a training split of 10 samples (forget 2, 4, 6, 7, 9)."""

    split: FakeSplit = field(default_factory=lambda: FakeSplit(np.array([2, 4, 6, 7, 9]), np.array([0, 1, 3, 5, 8])))
    reads: set = field(default_factory=set)
    calls: list = field(default_factory=list)

    def memorization(self, models, seed):
        self.calls.append((models, seed))
        return np.array([0, 0, 0.7, 0, 0.1, 0, 0.9, 0.4, 0, 0.2])  # forget: 0.7, 0.1, 0.9, 0.4, 0.2

    def refine(self, forget_idx, retain_idx):
        part = FakeContext(FakeSplit(np.sort(forget_idx), np.sort(retain_idx)))
        part.for_method = lambda method: part
        return part


def test_the_groups_are_unlearned_low_to_high_and_the_groups_to_come_stay_retained():
    low, mid, high = Recorder(1.0), Recorder(2.0), Recorder(3.0)
    rum = RUM(low, mid, high, memorization_models=4, memorization_seed=7)
    model = torch.nn.Linear(1, 1, bias=False)
    model.weight.data.zero_()
    ctx = FakeContext()
    rum.unlearn(model, ctx)
    assert ctx.calls == [(4, 7)]
    # forget scores ascending: 0.1 (4), 0.2 (9) | 0.4 (7), 0.7 (2) | 0.9 (6): five samples split 2, 2, 1
    assert low.seen == [([4, 9], [0, 1, 2, 3, 5, 6, 7, 8])]
    assert mid.seen == [([2, 7], [0, 1, 3, 5, 6, 8])]
    assert high.seen == [([6], [0, 1, 3, 5, 8])]
    assert model.weight.item() == 123.0  # ((0·10 + 1)·10 + 2)·10 + 3: low, then mid, then high
    assert [s["level"] for s in rum.report["steps"]] == ["low", "mid", "high"]
    assert [s["forget"] for s in rum.report["steps"]] == [2, 2, 1]
    assert rum.report["steps"][2]["memorization_mean"] == pytest.approx(0.9)


def test_rum_declares_what_its_methods_read_and_refuses_bad_steps():
    from unlearn_bench.methods.finetune import Finetune

    rum = RUM(Recorder(), Finetune(), Recorder())
    assert set(rum.data_used) == {"forget", "retain"}
    with pytest.raises(UnlearnBenchError, match="not defined for random forgetting"):
        RUM(Recorder(), _class_only(), Recorder())
    with pytest.raises(UnlearnBenchError, match="memorization_models must be even"):
        RUM(Recorder(), Recorder(), Recorder(), memorization_models=3)


def test_the_settings_of_a_step_lie_over_its_config_and_misfits_say_how_to_clear_them():
    finetune = {"_target_": "unlearn_bench.methods.finetune.Finetune", "epochs": 5, "lr": 0.02}
    baseline = {"_target_": "unlearn_bench.methods.baseline.Baseline"}
    rum = RUM(baseline, finetune, finetune, settings={"low": None, "mid": {"epochs": 10, "lr": 0.1}, "high": None})
    assert (rum.steps["mid"].epochs, rum.steps["mid"].lr) == (10, 0.1)
    assert (rum.steps["high"].epochs, rum.steps["high"].lr) == (5, 0.02)
    with pytest.raises(UnlearnBenchError, match=r"method.settings.low \(epochs\).*set method.settings.low=null"):
        RUM(baseline, finetune, finetune, settings={"low": {"epochs": 3}})
    with pytest.raises(UnlearnBenchError, match="method.settings has keys for low, mid, high only"):
        RUM(baseline, finetune, finetune, settings={"top": {}})


def _class_only():
    method = Recorder()
    method.tasks = ("class",)
    return method


def test_rum_runs_from_the_command_line_and_reuses_the_selection_models(tmp_path):
    from cli_helpers import finish, start

    def run(name, *overrides):
        code, _, err = finish(start(tmp_path, "task=random", "task.n_forget=30", "task.selection.models=2",
                                    f"hydra.run.dir={tmp_path / name}", *overrides))
        assert code == 0, err[-3000:]
        return json.loads((tmp_path / name / "results.json").read_text())

    run("chosen", "method=baseline", "task.selection.by=memorization")
    models = tmp_path / ".cache" / "unlearn_bench" / "models"
    stored = {p.name for p in models.glob("*.safetensors")}
    record = run("rum", "method=rum", "task.selection.by=memorization", "method.settings.mid.epochs=1", "method.settings.high.epochs=1")
    assert {p.name for p in models.glob("*.safetensors")} == stored  # memorization models and both models reused
    steps = record["method_report"]["steps"]
    assert [(s["level"], s["method"], s["forget"]) for s in steps] == [
        ("low", "baseline", 10), ("mid", "finetune", 10), ("high", "salun", 10)]
    assert [s["retain"] for s in steps] == [record["split"]["retain_train"] + 20, record["split"]["retain_train"] + 10,
                                            record["split"]["retain_train"]]
    assert record["data_read"] == ["forget", "retain"]
    assert (steps[1]["report"]["epochs"], steps[1]["report"]["lr"]) == (1, 0.1)  # the settings over finetune's YAML
