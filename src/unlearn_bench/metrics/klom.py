"""KLoM, the KL divergence of margins (EasyDUB / data-unlearning-bench, RoyRin/data-unlearning-bench,
unlearning_bench/eval.py at eb261f9): per example, the margins of N unlearned models and of N
retrained ("oracle") models, margin = the correct logit − logsumexp of the others, clipped to
[−100, 100] and binned in 20 equal bins over the two populations' joint range; KLoM = D_KL(unlearned
‖ oracle) of the bin frequencies, the oracle's floored at 1e-5 where the unlearned has mass, both
renormalised (scipy's entropy). As in that code, a sample equal to the joint maximum falls on the
last bin edge and is left out of both counts (numpy.digitize). 0 means the unlearned models' margins
are distributed as retraining's."""

from __future__ import annotations

import numpy as np

BINS = 20
FLOOR = 1e-5
CLIP = 100.0


def margins(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """[models × examples] margins from [models × examples × classes] logits."""
    logits = np.asarray(logits, dtype=np.float64)
    models, examples, classes = logits.shape
    onehot = np.zeros((examples, classes), dtype=bool)
    onehot[np.arange(examples), targets] = True
    correct = logits[:, onehot].reshape(models, examples)
    others = np.where(onehot[None], -np.inf, logits)
    top = others.max(axis=-1, keepdims=True)
    return correct - (top[..., 0] + np.log(np.exp(others - top).sum(axis=-1)))


def binned_kl(p_samples: np.ndarray, q_samples: np.ndarray, bins: int = BINS) -> float:
    """D_KL(p ‖ q) of the two sample sets' frequencies in `bins` equal bins over their joint range."""
    p = np.clip(np.asarray(p_samples, dtype=np.float64), -CLIP, CLIP)
    q = np.clip(np.asarray(q_samples, dtype=np.float64), -CLIP, CLIP)
    low, high = min(p.min(), q.min()), max(p.max(), q.max())
    if low >= high:
        high = low + 1
    edges = np.linspace(low, high, bins + 1)

    def frequencies(samples):
        counts = np.array([np.sum(np.digitize(samples, edges) == i) for i in range(1, bins + 1)], dtype=np.float64)
        return counts / counts.sum() if counts.sum() > 0 else counts

    p_freq, q_freq = frequencies(p), frequencies(q)
    if p_freq.sum() == 0:  # every unlearned margin at the joint maximum: undefined, as in that code
        return float("nan")
    q_freq = np.where(p_freq > 0, np.maximum(q_freq, FLOOR), q_freq)
    p_freq, q_freq = p_freq / p_freq.sum(), q_freq / q_freq.sum()
    mass = p_freq > 0
    return float(np.sum(p_freq[mass] * np.log(p_freq[mass] / q_freq[mass])))


def klom(unlearned_margins: np.ndarray, oracle_margins: np.ndarray) -> np.ndarray:
    """KLoM of each example from [models × examples] margins of the unlearned and the oracle models."""
    unlearned_margins, oracle_margins = np.asarray(unlearned_margins), np.asarray(oracle_margins)
    if unlearned_margins.shape != oracle_margins.shape or unlearned_margins.ndim != 2:
        raise ValueError(f"margins must be [models, examples] of one shape, got {unlearned_margins.shape} and "
                         f"{oracle_margins.shape}.")
    return np.array([binned_kl(unlearned_margins[:, i], oracle_margins[:, i]) for i in range(unlearned_margins.shape[1])])


def summary(values: np.ndarray) -> dict[str, float]:
    """Mean, median and 95th percentile over the examples where KLoM is defined, and how many it is not
    (high percentiles matter: a method is only as good as its worst-forgotten examples)."""
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(np.nanmean(values)), "median": float(np.nanmedian(values)),
            "p95": float(np.nanpercentile(values, 95)), "undefined": int(np.isnan(values).sum())}
