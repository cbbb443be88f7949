"""The NeurIPS'23 challenge score and KLoM on hand-made confidences, margins and logits, against values
worked out by hand from their definitions (metrics/challenge.py, metrics/klom.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from unlearn_bench.metrics.challenge import (
    DELTA,
    bucket_points,
    challenge_score,
    example_epsilon,
    forgetting_quality,
    logit_scaled_confidence,
)
from unlearn_bench.metrics.klom import binned_kl, klom, margins, summary


def test_logit_scaled_confidence_and_margin_by_hand():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    # log p_y − log Σ_{j≠y} p_j = z_y − log Σ_{j≠y} e^{z_j}: 2 − log(e + 1), 0 − log(e³ + e)
    expected = [2 - math.log(math.e + 1), -math.log(math.e ** 3 + math.e)]
    assert logit_scaled_confidence(logits, np.array([0, 0])).tolist() == pytest.approx(expected, abs=1e-12)
    assert margins(logits[None], np.array([0, 0]))[0].tolist() == pytest.approx(expected, abs=1e-12)


def test_overlapping_populations_give_the_best_threshold_attacks_epsilon():
    # retrained [2.5 .. 5.5] vs unlearned [0 .. 3]: a threshold in (2.5, 3] has FPR = FNR = 1/4, the best
    # any threshold of either family reaches with four models (one of each side wrong)
    eps = example_epsilon(np.array([0.0, 1.0, 2.0, 3.0]), np.array([2.5, 3.5, 4.5, 5.5]))
    assert eps == pytest.approx(math.log(1 - DELTA - 0.25) - math.log(0.25), abs=1e-12)


@pytest.mark.parametrize(("unlearned", "retrained", "expected"), [
    ([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0], 0.0),  # one population: no attack beats chance
    ([0.0, 1.0, 2.0, 3.0], [10.0, 11.0, 12.0, 13.0], 50.0),  # perfectly separated: ∞, capped
    ([1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 2.0, 3.0], 50.0),  # a population of no spread beside one of 3
])
def test_epsilon_of_identical_separated_and_peaky_populations(unlearned, retrained, expected):
    assert example_epsilon(np.array(unlearned), np.array(retrained)) == expected


def test_buckets_halve_up_to_the_log_of_the_model_count():
    assert bucket_points(4) == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.25), (1.5, 0.125)]  # ⌈log 3⌉ = 2
    assert bucket_points(3) == [(0.0, 1.0), (0.5, 0.5)]  # ⌈log 2⌉ = 1
    assert forgetting_quality(np.array([0.0, math.log(3), 50.0]), 4) == pytest.approx((1 + 0.25 + 0) / 3)


def test_the_final_score_scales_forgetting_quality_by_the_accuracy_ratios():
    unlearned = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    retrained = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0], [3.0, 13.0]])
    result = challenge_score(unlearned, retrained, [90.0, 92.0], [100.0, 100.0], [80.0, 80.0], [100.0, 100.0])
    assert result.epsilons.tolist() == [0.0, 50.0]
    assert result.forgetting_quality == 0.5 and result.retain_ratio == pytest.approx(0.91)
    assert result.score == pytest.approx(0.5 * 0.91 * 0.8)


def test_the_score_needs_three_models_of_each_kind():
    with pytest.raises(ValueError, match="at least 3 models"):
        challenge_score(np.zeros((2, 1)), np.ones((2, 1)), [1], [1], [1], [1])


def test_klom_of_identical_populations_is_zero():
    rng = np.random.default_rng(0)
    same = rng.normal(size=(16, 5))
    assert klom(same, same).tolist() == [0.0] * 5


def test_binned_kl_by_hand():
    # joint range [0, 2] in 20 bins: 0 → bin 1, 0.5 → bin 6, the maximum 2 is left out of both counts
    assert binned_kl([0, 0, 0.5, 2], [0, 0.5, 0.5, 2]) == pytest.approx(math.log(2) / 3, abs=1e-12)
    # bin 7 (the sample 1) is empty for q: floored at 1e-5, then q renormalised
    expected = 0.5 * math.log(0.5 * (1 + 1e-5)) + 0.5 * math.log(0.5 * (1 + 1e-5) / 1e-5)
    assert binned_kl([0, 1, 3], [0, 0, 3]) == pytest.approx(expected, abs=1e-12)


def test_klom_summary_leaves_out_the_undefined_examples():
    values = np.array([0.0, 1.0, 2.0, np.nan])
    assert summary(values) == {"mean": 1.0, "median": 1.0, "p95": pytest.approx(1.9), "undefined": 1}
    assert math.isnan(binned_kl([5.0, 5.0], [1.0, 5.0]))  # every unlearned margin at the joint maximum


# --- the lenses through the command line (scale=smoke on digits) ----------------------------------

def _run(root, *overrides):
    from cli_helpers import finish, start

    code, _, err = finish(start(root, "lenses.challenge.enabled=true", "lenses.klom.enabled=true",
                                "lenses.challenge.n=3", *overrides))
    return code, err


def test_the_population_lenses_run_from_one_override_and_reuse_the_retrained_models(tmp_path):
    import json

    code, err = _run(tmp_path, "method=finetune", "lenses.challenge.keep_per_model=true",
                     f"hydra.run.dir={tmp_path / 'finetune'}")
    assert code == 0, err[-3000:]
    models = tmp_path / ".cache" / "unlearn_bench" / "models"
    stored = sorted(p.name for p in models.glob("*.safetensors"))
    code, err = _run(tmp_path, "method=baseline", f"hydra.run.dir={tmp_path / 'baseline'}")
    assert code == 0, err[-3000:]
    assert sorted(p.name for p in models.glob("*.safetensors")) == stored  # nothing trained for the second method
    assert len(stored) == 2 + 3  # original, gold, the 3 retrained models

    for name in ("finetune", "baseline"):
        section = json.loads((tmp_path / name / "results.json").read_text())["lenses"]["populations"]
        challenge, klom_section = section["challenge"], section["klom"]
        assert section["n"] == 3 and len(challenge["epsilons"]) == section["forget_examples"] > 0
        assert challenge["score"] == pytest.approx(
            challenge["forgetting_quality"] * challenge["retain_ratio"] * challenge["test_ratio"])
        assert len(klom_section["per_example"]) == section["forget_examples"]
    per_model = json.loads((tmp_path / "finetune" / "results.json").read_text())["lenses"]["populations"][
        "challenge"]["per_model"]
    assert np.asarray(per_model["unlearned"]["confidences"]).shape == (3, section["forget_examples"])
    assert len(per_model["retrained"]["test_acc"]) == 3
    assert "per_model" not in baseline_section(tmp_path)
    # the baseline is deterministic: its 3 "unlearned" models are one model, which the score calls
    # perfectly distinguishable from the retrained ones (every ε capped, F = 0)
    baseline = json.loads((tmp_path / "baseline" / "results.json").read_text())["lenses"]["populations"]
    assert set(baseline["challenge"]["epsilons"]) == {50.0} and baseline["challenge"]["forgetting_quality"] == 0


def baseline_section(root):
    return json.loads((root / "baseline" / "results.json").read_text())["lenses"]["populations"]["challenge"]


def test_unlearning_n_originals_trains_them_through_the_store(tmp_path):
    import json

    code, err = _run(tmp_path, "method=finetune", "lenses.challenge.unlearned_from=originals",
                     f"hydra.run.dir={tmp_path / 'run'}")
    assert code == 0, err[-3000:]
    section = json.loads((tmp_path / "run" / "results.json").read_text())["lenses"]["populations"]
    assert section["unlearned_from"] == "originals"
    assert len(list((tmp_path / ".cache" / "unlearn_bench" / "models").glob("*.safetensors"))) == 2 + 3 + 3


@pytest.mark.parametrize(("override", "message"), [
    ("lenses.challenge.n=2", "lenses.challenge.n must be ≥ 3"),
    ("lenses.challenge.unlearned_from=nowhere", "lenses.challenge.unlearned_from must be one of unlearning_seeds, originals"),
])
def test_bad_population_settings_are_one_sentence(tmp_path, override, message):
    code, err = _run(tmp_path, override, f"hydra.run.dir={tmp_path / 'run'}")
    assert code == 2 and message in err.strip().splitlines()[-1] and "Traceback" not in err
