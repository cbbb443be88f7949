"""Output-distribution lenses: Jensen–Shannon divergence to the gold model, and the ZRF score of
Chundawat et al. (AAAI-23, "Can bad teaching induce forgetting?")."""

from __future__ import annotations

import math

import torch

ZRF_REDUCTIONS = ("official", "per_sample")


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Per-row Jensen–Shannon divergence (nats, in [0, ln 2]) between probability rows p and q:
    ½·KL(p‖m) + ½·KL(q‖m) with m = (p + q)/2; 0·log 0 counts as 0."""
    p, q = p.double(), q.double()
    m = (p + q) / 2
    return 0.5 * (_kl(p, m) + _kl(q, m))


def _kl(p: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    terms = torch.where(p > 0, p * (torch.log(p) - torch.log(m)), torch.zeros_like(p))
    return terms.sum(1)


def mean_js(logits_a: torch.Tensor, logits_b: torch.Tensor) -> float:
    """Mean per-sample JS divergence (nats) between the softmax outputs of two models; NaN if empty."""
    if len(logits_a) == 0:
        return math.nan
    return float(js_divergence(torch.softmax(logits_a.double(), 1), torch.softmax(logits_b.double(), 1)).mean())


def zrf_score(logits_model: torch.Tensor, logits_random: torch.Tensor, reduction: str = "official") -> float:
    """ZRF = 1 − divergence between the model's and a randomly initialised model's softmax on the
    forget set: 1 means the model answers like an untrained network.

    "per_sample": 1 − mean per-sample JS (the paper's formula).
    "official": what the authors' code computes (DESIGN.md §3): its `JSDiv` calls
    `F.kl_div(log p, m)` with reduction="mean", i.e. ½·KL(m‖p) + ½·KL(m‖q) (KL's arguments the
    other way round from JS), averaged over all samples × classes, so divided by the number of classes."""
    if reduction not in ZRF_REDUCTIONS:
        raise ValueError(f"ZRF reduction must be one of {ZRF_REDUCTIONS}, got {reduction!r}")
    if len(logits_model) == 0:
        return math.nan
    log_p, log_q = torch.log_softmax(logits_model.double(), 1), torch.log_softmax(logits_random.double(), 1)
    if reduction == "per_sample":
        return float(1.0 - js_divergence(log_p.exp(), log_q.exp()).mean())
    # in log space: a probability that underflows to 0 (a collapsed model's logits far apart) would
    # make log p = −inf and the score −inf, where the formula's value is finite
    log_m = torch.logaddexp(log_p, log_q) - math.log(2.0)
    m = log_m.exp()
    return float(1.0 - 0.5 * (m * (log_m - log_p)).mean() - 0.5 * (m * (log_m - log_q)).mean())
