"""Per-example likelihood-ratio membership inference in the style of U-LiRA (Hayes, Shumailov,
Triantafillou, Khalifa, Papernot 2024, "Inexact unlearning needs more careful evaluations to avoid a
false sense of privacy"), built on LiRA (Carlini et al. 2022, "Membership inference attacks from
first principles").

For every candidate sample the attack knows how its logit-scaled confidence φ = log p_y − log(1 − p_y)
is distributed under models trained WITH it (IN shadows) and WITHOUT it (OUT shadows), fits a
Gaussian to each, and scores a target model by the log-likelihood ratio log N(φ; IN) − log N(φ; OUT).
It then has to tell the target's forget samples (trained on, then unlearned) from samples the target
never saw: AUC 0.5 means unlearning left no per-example trace; 1 means every forget sample is exposed.

Choices the paper leaves open, as made here (see also shadows.py):
- shadows are plain trained models (IN: trained with the sample; OUT: without), not shadows that were
  themselves unlearned with the method under test, so the same shadows serve every method;
- one forward pass per sample, no augmented queries;
- one variance per side pooled over all samples ("fixed variance", LiRA's choice for few shadows)
  unless `fixed_variance=False`, then per-sample variances (floored at `min_var`);
- TPR at a FPR below 1 / (number of never-trained samples) is the TPR at zero false positives.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import roc_auc_score, roc_curve

FPRS = {0.01: "tpr_at_1pct_fpr", 0.001: "tpr_at_0p1pct_fpr"}


def logit_confidence(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """φ = log(p_y / (1 − p_y)) of softmax(logits), computed stably as z_y − logsumexp(z_{≠y})."""
    logits = logits.double()
    true = logits.gather(1, labels.view(-1, 1)).squeeze(1)
    others = logits.scatter(1, labels.view(-1, 1), -math.inf)
    return (true - torch.logsumexp(others, 1)).numpy()


def _log_normal(x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    return -0.5 * (np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


def likelihood_ratio(target_phi: np.ndarray, shadow_phi: np.ndarray, shadow_in: np.ndarray,
                     fixed_variance: bool = True, min_var: float = 1e-4) -> np.ndarray:
    """Per-sample log N(φ; IN) − log N(φ; OUT). `shadow_phi`, `shadow_in`: (shadows, samples); every
    sample needs at least one IN and one OUT shadow (two of each for per-sample variances)."""
    shadow_in = shadow_in.astype(bool)
    n_in, n_out = shadow_in.sum(0), (~shadow_in).sum(0)
    if (n_in < 1).any() or (n_out < 1).any():
        raise ValueError("every sample needs at least one IN and one OUT shadow")
    mean_in = np.where(shadow_in, shadow_phi, 0).sum(0) / n_in
    mean_out = np.where(~shadow_in, shadow_phi, 0).sum(0) / n_out
    dev_in = np.where(shadow_in, shadow_phi - mean_in, 0) ** 2
    dev_out = np.where(~shadow_in, shadow_phi - mean_out, 0) ** 2
    if fixed_variance:
        var_in = np.full_like(mean_in, dev_in.sum() / max(n_in.sum() - len(n_in), 1))
        var_out = np.full_like(mean_out, dev_out.sum() / max(n_out.sum() - len(n_out), 1))
    else:
        var_in = dev_in.sum(0) / np.maximum(n_in - 1, 1)
        var_out = dev_out.sum(0) / np.maximum(n_out - 1, 1)
    var_in, var_out = np.maximum(var_in, min_var), np.maximum(var_out, min_var)
    return _log_normal(target_phi, mean_in, var_in) - _log_normal(target_phi, mean_out, var_out)


def attack_metrics(scores: np.ndarray, is_member: np.ndarray) -> dict[str, float]:
    """AUC, best balanced accuracy over thresholds, and TPR at 1 % and 0.1 % FPR (all in %) of
    scores that should be higher for members (label 1) than for non-members (label 0)."""
    is_member = np.asarray(is_member).astype(int)
    if is_member.min() == is_member.max():
        raise ValueError("attack metrics need both members and non-members")
    if not np.isfinite(scores).all():  # a diverged model's outputs: the attack is undefined
        return {"auc": math.nan, "balanced_acc": math.nan, **{name: math.nan for name in FPRS.values()}}
    fpr, tpr, _ = roc_curve(is_member, scores)
    out = {"auc": 100.0 * roc_auc_score(is_member, scores),
           "balanced_acc": 100.0 * float(((tpr + 1 - fpr) / 2).max())}
    for level, name in FPRS.items():
        out[name] = 100.0 * float(tpr[fpr <= level].max())
    return out
