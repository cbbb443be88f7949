"""The NeurIPS 2023 Machine Unlearning Challenge score (Triantafillou et al., arXiv 2406.09073), with
the definitions of the organisers' public evaluation code (google-deepmind/unlearning_evaluation,
metric.py and main.py at ffae0ff):

- each model's logit-scaled confidence on each forget example, log p_y − log Σ_{j≠y} p_j;
- per example, the N unlearned and the N retrained models' confidences are two populations; the one
  with the larger median is "positive". Threshold attacks of two families (one threshold: positive
  at or above it; two thresholds: the peakier population inside the interval) give, at each threshold,
  ε = max(log(1 − δ − FPR) − log FNR, log(1 − δ − FNR) − log FPR), clipped below at 0; a threshold
  with FPR = FNR = 0 gives ∞, one where only one of them is 0 is discarded; the example's ε is the
  largest, capped at 50. A population 100× peakier than the other (range ratio < 1 %) gets the cap;
- ε is bucketed in steps of 0.5 up to ⌈log(N − 1)⌉, the buckets worth 1, 1/2, 1/4, ... (beyond: 0), and
  the forgetting quality F is the mean over forget examples;
- the final score is F × (RA_u / RA_r) × (TA_u / TA_r), mean retain and test accuracies of the
  unlearned over the retrained models."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DELTA = 1e-5
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
BUFFER = 2.0  # how far the two-threshold family reaches beyond the peakier population
PEAKY_RATIO = 0.01


def logit_scaled_confidence(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log p_y − log Σ_{j≠y} p_j per row of `logits` (softmax in float64, as the organisers')."""
    logits = np.asarray(logits, dtype=np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    rows = np.arange(len(logits))
    correct = probs[rows, targets].copy()
    probs[rows, targets] = 0.0
    return np.log(correct + 1e-45) - np.log(probs.sum(axis=1) + 1e-45)


def _single_threshold_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    both = np.concatenate([pos, neg])
    low, high = both.min(), both.max()
    thresholds = np.linspace(low, high, int(math.ceil((high - low) * THRESHOLDS_PER_UNIT)))
    tpr = (pos[:, None] >= thresholds[None, :]).mean(0)
    fpr = (neg[:, None] >= thresholds[None, :]).mean(0)
    return fpr, 1.0 - tpr


def _double_threshold_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intervals [left, right] predicting the peakier population (the one of smaller range)."""
    if np.ptp(pos) >= np.ptp(neg):
        pos, neg = neg, pos
    width = np.ptp(pos)
    low, high = pos.min() + width - BUFFER, pos.max() + BUFFER
    rights = np.linspace(low, high, int(math.ceil((high - low) * THRESHOLDS_PER_UNIT)))
    per_right = int(math.ceil(2 * BUFFER * THRESHOLDS_PER_UNIT))
    lefts = np.concatenate([np.linspace(r - width - BUFFER, r - width + BUFFER, per_right) for r in rights])
    rights = np.repeat(rights, per_right)

    def inside(confs):
        return ((lefts[None, :] <= confs[:, None]) & (confs[:, None] <= rights[None, :])).mean(0)

    return inside(neg), 1.0 - inside(pos)


def _threshold_epsilons(fpr: np.ndarray, fnr: np.ndarray, delta: float) -> np.ndarray:
    """ε at each threshold; NaN where exactly one of FPR, FNR is 0 (too few samples to tell)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        eps = np.fmax(np.log(1 - delta - fpr) - np.log(fnr), np.log(1 - delta - fnr) - np.log(fpr))
    eps = np.clip(eps, 0.0, None)
    eps = np.where((fpr == 0) & (fnr == 0), np.inf, eps)
    return np.where(((fpr == 0) | (fnr == 0)) & ~((fpr == 0) & (fnr == 0)), np.nan, eps)


def example_epsilon(unlearned: np.ndarray, retrained: np.ndarray, delta: float = DELTA) -> float:
    """The ε of one forget example from its confidences under the N unlearned and N retrained models."""
    unlearned, retrained = np.asarray(unlearned, dtype=np.float64), np.asarray(retrained, dtype=np.float64)
    pos, neg = (retrained, unlearned) if np.median(retrained) > np.median(unlearned) else (unlearned, retrained)
    ranges = sorted([np.ptp(pos), np.ptp(neg)])
    if ranges[1] > 0 and ranges[0] / ranges[1] < PEAKY_RATIO:
        return EPSILON_CAP
    rates = [_double_threshold_rates(pos, neg), _single_threshold_rates(pos, neg)]
    eps = np.concatenate([_threshold_epsilons(fpr, fnr, delta) for fpr, fnr in rates])
    kept = eps[~np.isnan(eps)]
    if kept.size == 0:
        raise ValueError("every threshold gave an undefined ε (the organisers' code stops here too).")
    return float(min(kept.max(), EPSILON_CAP))


def bucket_points(n_models: int) -> list[tuple[float, float]]:
    """(bucket start, points): buckets of width 0.5 from 0 while they end at or below ⌈log(N − 1)⌉,
    worth 1, 1/2, 1/4, ..."""
    top = math.ceil(math.log(n_models - 1))
    buckets, start, points = [], 0.0, 1.0
    while start + 0.5 <= top:
        buckets.append((start, points))
        start, points = start + 0.5, points / 2
    return buckets


def forgetting_quality(epsilons: np.ndarray, n_models: int) -> float:
    """F: the mean over forget examples of the points of the bucket each ε falls into (0 beyond the last)."""
    buckets = bucket_points(n_models)
    total = sum(next((points for start, points in buckets if e < start + 0.5), 0.0) for e in epsilons)
    return total / len(epsilons)


@dataclass(frozen=True)
class ChallengeScore:
    epsilons: np.ndarray  # per forget example
    forgetting_quality: float
    retain_ratio: float  # mean retain accuracy, unlearned / retrained
    test_ratio: float
    score: float


def challenge_score(unlearned_confs: np.ndarray, retrained_confs: np.ndarray, unlearned_retain_acc, retrained_retain_acc,
                    unlearned_test_acc, retrained_test_acc, delta: float = DELTA) -> ChallengeScore:
    """The score from [N models × forget examples] confidences and each model's retain and test accuracy."""
    unlearned_confs, retrained_confs = np.asarray(unlearned_confs), np.asarray(retrained_confs)
    if unlearned_confs.shape != retrained_confs.shape or unlearned_confs.ndim != 2:
        raise ValueError(f"confidences must be [models, examples] of one shape, got {unlearned_confs.shape} and "
                         f"{retrained_confs.shape}.")
    n_models = unlearned_confs.shape[0]
    if n_models < 3:
        raise ValueError(f"the score needs at least 3 models of each kind (its buckets reach log(N − 1)), got {n_models}.")
    eps = np.array([example_epsilon(unlearned_confs[:, i], retrained_confs[:, i], delta)
                    for i in range(unlearned_confs.shape[1])])
    quality = forgetting_quality(eps, n_models)
    retain = float(np.mean(unlearned_retain_acc) / np.mean(retrained_retain_acc))
    test = float(np.mean(unlearned_test_acc) / np.mean(retrained_test_acc))
    return ChallengeScore(eps, quality, retain, test, quality * retain * test)
