"""The lenses beside the paper's metrics, on hand-made numbers: JS divergence, ZRF (both
reductions), relearn time, and the U-LiRA likelihood-ratio attack on a synthetic case."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from unlearn_bench.metrics.divergence import js_divergence, mean_js, zrf_score
from unlearn_bench.metrics.relearn import RelearnConfig, relearn_steps
from unlearn_bench.metrics.ulira import attack_metrics, likelihood_ratio, logit_confidence
from unlearn_bench.utils.errors import UnlearnBenchError


def test_js_divergence_exact():
    p = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.2, 0.8]])
    q = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8]])
    # disjoint supports: ln 2; ([½,½], [1,0]): m = [¾,¼], ½(½·ln(4/3) + ln(4/3)) = ¾·ln(4/3); equal: 0
    expected = torch.tensor([math.log(2), 0.75 * math.log(4 / 3), 0.0], dtype=torch.float64)
    assert torch.allclose(js_divergence(p, q), expected, atol=1e-12)
    assert torch.allclose(js_divergence(q, p), expected, atol=1e-12)  # symmetric
    # from logits: log-probabilities are logits of the same softmax
    assert mean_js(p[1:].log(), q[1:].log()) == pytest.approx(0.375 * math.log(4 / 3), abs=1e-12)
    assert math.isnan(mean_js(torch.empty(0, 2), torch.empty(0, 2)))


def test_zrf_exact_on_a_hand_made_case():
    model = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    random = torch.tensor([[0.9, 0.1]], dtype=torch.float64)
    m = (0.7, 0.3)
    # the authors' code: ½·KL(m‖p) + ½·KL(m‖q), averaged over the 2 classes
    kl_m_p = m[0] * math.log(0.7 / 0.5) + m[1] * math.log(0.3 / 0.5)
    kl_m_q = m[0] * math.log(0.7 / 0.9) + m[1] * math.log(0.3 / 0.1)
    assert zrf_score(model.log(), random.log()) == pytest.approx(1 - (0.5 * kl_m_p + 0.5 * kl_m_q) / 2, abs=1e-12)
    # the paper's formula: 1 − JS(p, q)
    kl_p_m = 0.5 * math.log(0.5 / 0.7) + 0.5 * math.log(0.5 / 0.3)
    kl_q_m = 0.9 * math.log(0.9 / 0.7) + 0.1 * math.log(0.1 / 0.3)
    assert zrf_score(model.log(), random.log(), "per_sample") == pytest.approx(1 - 0.5 * (kl_p_m + kl_q_m), abs=1e-12)
    # a model that answers exactly like the random one scores 1
    assert zrf_score(random.log(), random.log()) == pytest.approx(1.0) == zrf_score(random.log(), random.log(), "per_sample")
    with pytest.raises(ValueError):
        zrf_score(model, random, "sum")


def test_zrf_stays_finite_when_a_collapsed_model_underflows():
    # logits 800 apart: p = (e^-800, 1) underflows to (0, 1) in float64, log p must stay (−800, 0)
    collapsed = torch.tensor([[0.0, 800.0]], dtype=torch.float64)
    uniform = torch.zeros(1, 2, dtype=torch.float64)
    m = (0.25, 0.75)  # (p + q)/2 with q = (½, ½), e^-800 below float64's reach
    kl_m_p = m[0] * (math.log(m[0]) + 800.0) + m[1] * math.log(m[1])
    kl_m_q = m[0] * math.log(m[0] / 0.5) + m[1] * math.log(m[1] / 0.5)
    assert zrf_score(collapsed, uniform) == pytest.approx(1 - (0.5 * kl_m_p + 0.5 * kl_m_q) / 2, abs=1e-9)
    kl_p_m = math.log(1 / 0.75)  # the paper's JS: the underflowed class contributes 0·log 0 = 0
    kl_q_m = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert zrf_score(collapsed, uniform, "per_sample") == pytest.approx(1 - 0.5 * (kl_p_m + kl_q_m), abs=1e-12)


def _blobs(n: int = 60, seed: int = 0):
    """Three well-separated 2-D classes."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    y = torch.arange(3).repeat_interleave(n)
    return centres[y] + 0.5 * torch.randn(len(y), 2, generator=g), y


def _train(x, y, steps: int = 300) -> nn.Module:
    torch.manual_seed(0)
    net = nn.Linear(2, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net


def test_relearn_time_zero_for_a_model_that_knows_the_class_and_gold_like_for_one_that_never_did():
    x, y = _blobs()
    forget = TensorDataset(x[y == 2], y[y == 2])
    knows = _train(x, y)
    never = _train(x[y != 2], y[y != 2])  # never trained on class 2: the gold model
    cfg = RelearnConfig(lr=0.1, batch_size=16, max_steps=200, tolerance=2.0)
    cpu = torch.device("cpu")
    assert relearn_steps(knows, forget, 100.0, cfg, cpu) == {"steps": 0, "reached": True, "final_acc": 100.0}
    gold = relearn_steps(never, forget, 100.0, cfg, cpu)
    assert gold["reached"] and gold["steps"] > 0
    # a model that never learned the class relearns exactly as slowly as the gold model: gap 0
    twin = _train(x[y != 2], y[y != 2])
    assert relearn_steps(twin, forget, 100.0, cfg, cpu)["steps"] - gold["steps"] == 0
    # the model itself is left untouched; the step cap is reported as not reached
    assert relearn_steps(never, forget, 100.0, RelearnConfig(lr=1e-6, max_steps=3), cpu) == {
        "steps": 3, "reached": False, "final_acc": 0.0}
    with pytest.raises(UnlearnBenchError, match="lenses.relearn"):
        RelearnConfig(lr=0.0)


def test_lenses_reuse_the_evaluations_logits_and_give_the_same_values(monkeypatch):
    from types import SimpleNamespace

    from unlearn_bench.metrics import lenses as lenses_module
    from unlearn_bench.metrics.split_metrics import SPLITS, model_outputs

    x, y = _blobs()
    sets = {split: TensorDataset(x[i::4], y[i::4]) for i, split in enumerate(SPLITS)}
    models = {"unlearned": _train(x, y, steps=5), "original": _train(x, y), "gold": _train(x[y != 2], y[y != 2])}
    exp = SimpleNamespace(initial_model=lambda: torch.manual_seed(7) and nn.Linear(2, 3))
    cfg = {"relearn": {"enabled": False}}
    cpu = torch.device("cpu")
    fresh = lenses_module.compute_lenses(cfg, exp, None, {}, models, sets, 100.0, cpu, 0)
    logits = {role: {s: out[0] for s, out in model_outputs(m, sets, cpu).items()} for role, m in models.items()}
    calls = []
    real_predict = lenses_module.predict
    monkeypatch.setattr(lenses_module, "predict", lambda *a, **k: calls.append(a[1]) or real_predict(*a, **k))
    reused = lenses_module.compute_lenses(cfg, exp, None, {}, models, sets, 100.0, cpu, 0, logits=logits)
    assert reused == fresh and set(fresh) == {"js_to_gold", "zrf", "zrf_reduction"}
    assert calls == [sets["forget_train"]]  # only the random network's pass for ZRF; no model predicted again


def test_logit_confidence_is_log_odds_of_the_true_class():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, -1.0]])
    p = torch.softmax(logits.double(), 1)
    expected = [math.log(p[0, 0] / (1 - p[0, 0])), math.log(p[1, 2] / (1 - p[1, 2]))]
    assert logit_confidence(logits, torch.tensor([0, 2])) == pytest.approx(expected, abs=1e-12)


def _synthetic_membership(n: int = 400, shadows: int = 16, seed: int = 0):
    """Per-sample difficulty d; a model trained on a sample shows φ = d + 3 + noise, else d + noise."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 2, n)
    shadow_in = np.zeros((shadows, n), dtype=bool)
    for pair in range(shadows // 2):
        half = rng.permutation(n)[: n // 2]
        shadow_in[2 * pair, half] = True
        shadow_in[2 * pair + 1] = ~shadow_in[2 * pair]
    shadow_phi = difficulty + 3.0 * shadow_in + rng.normal(0, 0.5, (shadows, n))
    is_member = np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)]
    return rng, difficulty, shadow_phi, shadow_in, is_member


@pytest.mark.parametrize("fixed_variance", [True, False])
def test_ulira_auc_near_1_for_a_memorising_model_and_near_half_for_one_that_never_saw_the_data(fixed_variance):
    rng, difficulty, shadow_phi, shadow_in, is_member = _synthetic_membership()
    memorised = difficulty + 3.0 * is_member + rng.normal(0, 0.5, len(difficulty))
    never_saw = difficulty + rng.normal(0, 0.5, len(difficulty))
    memo = attack_metrics(likelihood_ratio(memorised, shadow_phi, shadow_in, fixed_variance), is_member)
    blind = attack_metrics(likelihood_ratio(never_saw, shadow_phi, shadow_in, fixed_variance), is_member)
    assert memo["auc"] > 99.0 and memo["balanced_acc"] > 97.0 and memo["tpr_at_1pct_fpr"] > 80.0
    assert 42.0 < blind["auc"] < 58.0 and blind["tpr_at_1pct_fpr"] < 10.0
    # without per-sample calibration the raw confidence is a much weaker attack (difficulty dominates)
    assert attack_metrics(memorised, is_member)["auc"] < memo["auc"] - 10


def test_attack_metrics_exact_on_a_small_ranking():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 1, 0, 1, 0, 0])
    out = attack_metrics(scores, labels)
    # 8 of the 9 member/non-member pairs are ordered right
    assert out["auc"] == pytest.approx(100 * 8 / 9)
    assert out["balanced_acc"] == pytest.approx(100 * (1 + 2 / 3) / 2)  # threshold 0.6: TPR 1, FPR 1/3
    assert out["tpr_at_1pct_fpr"] == pytest.approx(100 * 2 / 3) == out["tpr_at_0p1pct_fpr"]
    with pytest.raises(ValueError):
        likelihood_ratio(np.zeros(2), np.zeros((2, 2)), np.array([[True, True], [True, False]]))


def test_bad_lens_settings_fail_before_any_training(make_cfg):
    from unlearn_bench.experiment.runner import run

    with pytest.raises(UnlearnBenchError, match="lenses.zrf.reduction"):
        run(make_cfg("lenses.zrf.reduction=sum"))
    with pytest.raises(UnlearnBenchError, match="lenses.ulira"):
        run(make_cfg("lenses.ulira.enabled=true", "lenses.ulira.shadow_pairs=0"))
    with pytest.raises(UnlearnBenchError, match="lenses"):
        run(make_cfg("+lenses.relearn.steps=3"))
