"""Forget sets graded by difficulty: the selection rule, the memorization and entanglement scores on
hand-made values, a planted memorised sample found by a model that memorises, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from unlearn_bench.data.forget import RandomTask
from unlearn_bench.data.selection import Selection, select_by_score
from unlearn_bench.metrics.difficulty import (
    centroid_distances,
    complementary_halves,
    entanglement_score,
    memorization_scores,
)
from unlearn_bench.utils.errors import UnlearnBenchError

SCORES = np.array([0.1, 0.9, 0.5, 0.45, 0.3, 0.7, 0.2])  # median 0.45


@pytest.mark.parametrize(("level", "n", "expected"), [
    ("high", 2, [1, 5]),
    ("low", 2, [0, 6]),
    ("mid", 2, [2, 3]),
    ("mix", 3, [0, 1, 3]),          # the highest, the lowest, the median
    ("mix", 4, [0, 1, 3, 5]),       # n − 2⌊n/3⌋ = 2 of the highest
])
def test_each_level_picks_its_scores(level, n, expected):
    assert select_by_score(SCORES, n, level, seed=0).tolist() == expected


def test_mix_never_takes_a_sample_twice():
    scores = np.array([0.0, 1.0, 1.0, 1.0, 0.2])  # median 1.0: the highest are also the nearest the median
    for seed in range(5):
        chosen = select_by_score(scores, 3, "mix", seed=seed).tolist()
        assert len(chosen) == 3 and 0 in chosen and len({1, 2, 3} & set(chosen)) == 2


def test_ties_are_broken_by_the_seed_alone():
    flat = np.zeros(50)
    picks = {s: tuple(select_by_score(flat, 5, "high", seed=s)) for s in range(4)}
    assert picks[0] == tuple(select_by_score(flat, 5, "high", seed=0))
    assert len(set(picks.values())) > 1


def test_the_selection_refuses_bad_values_in_one_sentence():
    with pytest.raises(UnlearnBenchError, match="task.selection.by must be one of uniform, memorization"):
        Selection(by="hardness")
    with pytest.raises(UnlearnBenchError, match="task.selection.level must be one of high, mid, low, mix"):
        Selection(by="memorization", level="top")
    with pytest.raises(UnlearnBenchError, match="task.selection.models must be even and ≥ 2"):
        Selection(by="memorization", models=3)
    with pytest.raises(UnlearnBenchError, match="sequential requests"):
        RandomTask(n_forget=10, requests=2, selection={"by": "entanglement"})
    with pytest.raises(UnlearnBenchError, match="NaN or infinite"):
        select_by_score(np.array([0.0, np.nan, 1.0]), 1, "high", seed=0)


def test_memorization_is_the_accuracy_gap_between_models_with_and_without_the_sample():
    in_masks = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 1]], dtype=bool)
    correct = np.array([[1, 1, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    # sample 0: in 0, 2 (1, 1) − out 1, 3 (0, 0) = 1; sample 1: in 1, 3 (1, 0) − out 0, 2 (1, 1) = −0.5;
    # sample 2: in 0, 3 (1, 1) − out 1, 2 (0, 0) = 1
    assert memorization_scores(in_masks, correct).tolist() == [1.0, -0.5, 1.0]
    with pytest.raises(ValueError, match="one model trained with it and one without"):
        memorization_scores(np.ones((2, 3), dtype=bool), np.ones((2, 3)))


def test_complementary_halves_put_every_sample_in_half_of_the_models():
    masks = complementary_halves(11, pairs=3, seed=7)
    assert masks.shape == (6, 11)
    assert (masks.sum(0) == 3).all() and (masks[0::2] ^ masks[1::2]).all()
    assert masks[0].sum() == 5
    assert np.array_equal(masks, complementary_halves(11, pairs=3, seed=7))


def test_centroid_distances_and_the_entanglement_score_by_hand():
    assert centroid_distances(torch.tensor([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]])).tolist() == [2.0, 0.0, 2.0]
    forget = torch.tensor([[0.0, 0.0], [2.0, 0.0]])   # μ_f = (1, 0), mean ‖φ − μ_f‖² = 1
    retain = torch.tensor([[4.0, 0.0], [6.0, 0.0]])   # μ_r = (5, 0), mean ‖φ − μ_r‖² = 1
    # μ = (3, 0): (‖μ_r − μ‖² + ‖μ_f − μ‖²) / 2 = 4, so ES = (1 + 1) / 4
    assert entanglement_score(forget, retain) == 0.5
    overlapping = torch.tensor([[3.0, 1.0], [3.0, -1.0]])
    assert entanglement_score(overlapping + torch.tensor([0.1, 0.0]), overlapping) > 100


def _one_nearest_neighbour(train_x, train_y):
    """A model that memorises its training data exactly: the label of the nearest training point."""
    return lambda x: train_y[torch.cdist(x, train_x).argmin(1)]


def test_a_planted_mislabelled_sample_is_the_most_memorised():
    gen = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(20, 2, generator=gen), torch.randn(20, 2, generator=gen) + 8])
    y = torch.cat([torch.zeros(20), torch.ones(20)]).long()
    planted = 5
    y[planted] = 1  # a class-0 point labelled 1: only a model that saw it gets it right
    masks = complementary_halves(len(y), pairs=4, seed=0)
    correct = np.stack([(_one_nearest_neighbour(x[m], y[m])(x) == y).numpy() for m in torch.as_tensor(masks)])
    scores = memorization_scores(masks, correct)
    assert scores[planted] == 1.0 and np.delete(scores, planted).max() < 1.0
    assert select_by_score(scores, 1, "high", seed=0).tolist() == [planted]
    assert planted not in select_by_score(scores, 5, "low", seed=0)


# --- through the command line (digits, tiny recipe) ----------------------------------------------

def _run(root, name, *overrides):
    from cli_helpers import finish, start

    code, _, err = finish(start(root, "task=random", "task.n_forget=30", "method=baseline",
                                f"hydra.run.dir={root / name}", *overrides))
    assert code == 0, err[-3000:]
    return json.loads((root / name / "results.json").read_text())


def test_a_memorization_selection_is_seeded_recorded_and_reuses_its_models(tmp_path):
    first = _run(tmp_path, "a", "task.selection.by=memorization", "task.selection.models=2")
    models = tmp_path / ".cache" / "unlearn_bench" / "models"
    stored = sorted(p.name for p in models.glob("*.safetensors"))
    assert len(stored) == 2 + 2  # original, gold, the two memorization models
    again = _run(tmp_path, "b", "task.selection.by=memorization", "task.selection.models=2")
    assert sorted(p.name for p in models.glob("*.safetensors")) == stored
    selection = first["split"]["selection"]
    assert selection == again["split"]["selection"]
    assert {selection["by"], selection["level"], selection["models"]} == {"memorization", "high", 2}
    assert first["forget"] == "30 high-memorization samples"
    scores = selection["forget_scores"]
    assert len(scores) == 30 and min(scores) == selection["scores"]["forget_min"]
    assert selection["scores"]["forget_mean"] >= selection["scores"]["train_mean"]
    assert selection["entanglement_score"] > 0


def test_entanglement_levels_choose_far_and_near_samples(tmp_path):
    high = _run(tmp_path, "high", "task.selection.by=entanglement")["split"]["selection"]
    low = _run(tmp_path, "low", "task.selection.by=entanglement", "task.selection.level=low")["split"]["selection"]
    assert "models" not in high
    assert high["scores"]["forget_min"] >= high["scores"]["train_median"] >= low["scores"]["forget_max"]
