"""RMIA (Zarifzadeh, Liu, Shokri, ICML 2024, "Low-cost high-power membership inference attacks"), in
its offline form as the authors' Privacy Meter runs it (privacytrustlab/ml_privacy_meter, attacks.py at
e384af8): with p(x | θ) the softmax probability of x's label,

    p(x) ≈ (1 + a)/2 · mean over OUT reference models of p(x | θ_ref) + (1 − a)/2,
    score(x) = the share of population samples z with [p(x | θ)/p(x)] / [p(z | θ)/p(z)] > 1,

population samples being ones no model trained on; `a` is tuned on a reference model attacked with
the others (the AUC-best of 0, 0.1, ..., 1). Here the reference models are U-LiRA's shadows (each
candidate is OUT for half of them), so RMIA and U-LiRA score the same forget and never-trained samples."""

from __future__ import annotations

import numpy as np
import torch

from unlearn_bench.metrics.ulira import attack_metrics

A_GRID = tuple(round(0.1 * i, 1) for i in range(11))


def label_probability(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """p(x | θ): the softmax probability of each sample's label."""
    return torch.softmax(logits.double(), dim=1)[torch.arange(len(labels)), labels].numpy()


def rmia_scores(target_x: np.ndarray, refs_x: np.ndarray, refs_in_x: np.ndarray, target_z: np.ndarray,
                refs_z: np.ndarray, a: float) -> np.ndarray:
    """RMIA score of each candidate x. target_x [X], refs_x [R, X] with refs_in_x [R, X] (True: that
    reference model trained on x; only the OUT ones count), target_z [Z], refs_z [R, Z] (all OUT)."""
    out = ~np.asarray(refs_in_x, dtype=bool)
    if not out.any(axis=0).all():
        raise ValueError("every candidate needs at least one OUT reference model")
    mean_out_x = (refs_x * out).sum(0) / out.sum(0)
    p_x = (1 + a) / 2 * mean_out_x + (1 - a) / 2
    p_z = (1 + a) / 2 * refs_z.mean(0) + (1 - a) / 2
    ratio_x, ratio_z = target_x / p_x, target_z / p_z
    return (ratio_x[:, None] / ratio_z[None, :] > 1.0).mean(1)


def tune_a(refs_x: np.ndarray, refs_in_x: np.ndarray, refs_z: np.ndarray, paired: int = 0) -> float:
    """The `a` of the best AUC when reference model `paired` is the target (its pair, trained on the
    complementary half, left out of the references): its IN candidates are the members."""
    partner = paired + 1 if paired % 2 == 0 else paired - 1
    others = [i for i in range(len(refs_x)) if i not in (paired, partner)]
    members = np.asarray(refs_in_x[paired], dtype=int)
    best, best_auc = 0.0, -1.0
    for a in A_GRID:
        scores = rmia_scores(refs_x[paired], refs_x[others], refs_in_x[others], refs_z[paired], refs_z[others], a)
        auc = attack_metrics(scores, members)["auc"]
        if auc > best_auc:
            best, best_auc = a, auc
    return best


def rmia_attack(targets: dict[str, tuple[np.ndarray, np.ndarray]], refs_x: np.ndarray, refs_in_x: np.ndarray,
                refs_z: np.ndarray, is_member: np.ndarray) -> dict:
    """Attack metrics (%) per target model ({role: (p on the candidates, p on the population)})."""
    a = tune_a(refs_x, refs_in_x, refs_z) if len(refs_x) >= 4 else 0.0
    out: dict = {"offline_a": a, "n_references": int(len(refs_x)), "n_population": int(refs_z.shape[1])}
    for role, (target_x, target_z) in targets.items():
        out[role] = attack_metrics(rmia_scores(target_x, refs_x, refs_in_x, target_z, refs_z, a), is_member)
    return out
