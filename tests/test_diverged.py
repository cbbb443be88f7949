"""A method that ends with non-finite weights is a result, not a crash: the run writes its record,
says in one warning that the method diverged, counts non-finite outputs as wrong and leaves the
membership attacks undefined (NaN), instead of stopping in scikit-learn with `Input X contains NaN`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from unlearn_bench.experiment.runner import run
from unlearn_bench.metrics.mia import mia_score
from unlearn_bench.metrics.split_metrics import accuracy, non_finite_warning
from unlearn_bench.metrics.ulira import attack_metrics


def test_a_sample_with_non_finite_logits_counts_as_misclassified():
    logits = torch.tensor([[2.0, 1.0], [math.nan, 0.0], [0.0, math.inf], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert accuracy(logits, labels) == pytest.approx(50.0)  # rows 0 and 3 right; 1 and 2 not finite


def test_membership_attacks_on_non_finite_scores_are_undefined():
    member, nonmember = np.array([0.1, 0.2]), np.array([1.0, 1.1])
    assert math.isnan(mia_score(member, nonmember, np.array([math.nan, 0.1])))
    assert mia_score(member, nonmember, np.array([0.15])) == 100.0
    undefined = attack_metrics(np.array([0.5, math.nan, 0.1]), np.array([1, 0, 0]))
    assert all(math.isnan(v) for v in undefined.values())


def test_the_diverged_warning_counts_the_non_finite_tensors():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    assert non_finite_warning(model) is None
    with torch.no_grad():
        model[0].weight[0, 0] = math.nan
        model[1].running_var[1] = math.inf
    assert non_finite_warning(model) == (
        "the unlearned model has non-finite weights (2 of 6 tensors): the method diverged; its accuracies "
        "count non-finite outputs as wrong and its MIA is undefined (NaN).")


@pytest.mark.slow
def test_a_diverged_method_writes_its_record_with_the_warning(make_cfg, tmp_path):
    record = run(make_cfg("task=class", "method=neggrad_plus", "method.lr=1000", "method.epochs=1"))
    unlearned = record["metrics"]["unlearned"]
    assert record["warnings"][0].startswith("the unlearned model has non-finite weights")
    assert unlearned["test_acc"] == 0.0 and math.isnan(unlearned["mia"])
    assert record["lenses"]["relearn"]["unlearned"]["final_acc"] == 0.0
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["warnings"] == record["warnings"]


@pytest.mark.slow
def test_a_diverged_request_in_a_sequence_is_flagged_in_its_step(make_cfg):
    record = run(make_cfg("task=random", "task.requests=2", "task.n_forget=20", "method=neggrad_plus",
                          "method.lr=1000", "method.epochs=1", "dataset.train_subset=400", "dataset.test_subset=200"))
    first = record["sequence"][0]
    assert first["warnings"][0].startswith("the unlearned model has non-finite weights")
    assert record["warnings"][0] == f"request 1: {first['warnings'][0]}"
