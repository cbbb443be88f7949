"""RMIA (metrics/rmia.py): its ratio test on a 3-sample toy worked out by hand, the tuning of a, and the
lens through the command line beside U-LiRA on the same samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cli_helpers import finish, start
from unlearn_bench.metrics.rmia import A_GRID, label_probability, rmia_scores, tune_a

REFS_X = np.array([[0.4, 0.2, 0.6], [0.6, 0.4, 0.2]])
REFS_IN = np.array([[False, True, False], [True, False, False]])  # each x's OUT references average to 0.4
TARGET_X = np.array([0.9, 0.5, 0.1])
TARGET_Z, REFS_Z = np.array([0.3, 0.6]), np.array([[0.2, 0.8], [0.4, 0.4]])


@pytest.mark.parametrize(("a", "expected"), [
    # a = 0: p(x) = (0.4 + 1)/2 = 0.7, p(z) = (0.65, 0.8): ratios x (9/7, 5/7, 1/7) against z (0.46, 0.75)
    (0.0, [1.0, 0.5, 0.0]),
    # a = 1: p(x) = 0.4, p(z) = (0.3, 0.6): ratios x (2.25, 1.25, 0.25) against z (1, 1)
    (1.0, [1.0, 1.0, 0.0]),
])
def test_rmia_scores_by_hand(a, expected):
    assert rmia_scores(TARGET_X, REFS_X, REFS_IN, TARGET_Z, REFS_Z, a).tolist() == expected


def test_a_candidate_without_an_out_reference_is_refused():
    with pytest.raises(ValueError, match="at least one OUT reference"):
        rmia_scores(TARGET_X, REFS_X, np.ones_like(REFS_IN), TARGET_Z, REFS_Z, 0.0)


def test_label_probability_is_the_softmax_of_the_label():
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    assert label_probability(logits, torch.tensor([1, 0])).tolist() == pytest.approx([0.5, 1 / (1 + np.exp(-2))])


def test_a_is_tuned_on_a_reference_model_attacked_by_the_others():
    rng = np.random.default_rng(0)
    halves = [rng.random(40) < 0.5 for _ in range(3)]
    masks = np.stack([m for half in halves for m in (half, ~half)])  # 3 pairs on complementary halves
    refs_x = np.where(masks, 0.9, 0.3) + rng.normal(0, 0.05, masks.shape)  # members more confident
    a = tune_a(np.clip(refs_x, 0.01, 0.99), masks, rng.uniform(0.2, 0.4, (6, 30)))
    assert a in A_GRID


def test_the_rmia_lens_runs_with_lenses_cpu_beside_ulira(tmp_path):
    code, _, err = finish(start(tmp_path, "lenses=cpu", "method=finetune", f"hydra.run.dir={tmp_path / 'run'}"))
    assert code == 0, err[-3000:]
    lenses = json.loads((tmp_path / "run" / "results.json").read_text())["lenses"]
    rmia, ulira = lenses["rmia"], lenses["ulira"]
    assert rmia["n_references"] == ulira["n_shadows"] == 4 and rmia["offline_a"] in A_GRID
    for role in ("unlearned", "original", "gold"):
        assert set(rmia[role]) == set(ulira[role]) == {"auc", "balanced_acc", "tpr_at_1pct_fpr", "tpr_at_0p1pct_fpr"}


def test_rmia_without_ulira_is_one_sentence(tmp_path):
    code, _, err = finish(start(tmp_path, "lenses.rmia.enabled=true", f"hydra.run.dir={tmp_path / 'run'}"))
    assert code == 2 and err.strip().splitlines()[-1] == (
        "error: lenses.rmia needs lenses.ulira.enabled=true: U-LiRA's shadows are RMIA's reference models (or use "
        "lenses=cpu).")
