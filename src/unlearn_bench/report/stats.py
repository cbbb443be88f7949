"""Statistics over seeds: percentile-bootstrap intervals of a mean, and the "closest to retrain"
verdict that is only given where the intervals separate the winner from the runner-up."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
RESAMPLES = 10_000
SEED = 0  # fixed: the same numbers always give the same interval


def bootstrap_interval(values, level: float = LEVEL, resamples: int = RESAMPLES,
                       seed: int = SEED) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of `values` (resampling them with replacement);
    one value gives a zero-width interval, none gives (nan, nan)."""
    return _percentiles(_resampled_means(values, resamples, seed), level)


def _resampled_means(values, resamples: int, seed: int) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return np.full(1, np.nan)
    rng = np.random.default_rng(seed)
    return values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(1)


def _percentiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.percentile(samples, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


@dataclass(frozen=True)
class Verdict:
    """`winner`: the method separated from the runner-up, or None; `tied`: the methods whose
    intervals overlap the best one's (the best included) when there is no winner."""

    winner: str | None
    tied: tuple[str, ...] = ()

    def text(self) -> str:
        if self.winner:
            return self.winner
        return f"tie ({', '.join(self.tied)})" if self.tied else "—"


def closest_to(reference: list[float] | None, candidates: dict[str, list[float]], lower_is_better: bool = False,
               level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED) -> Verdict:
    """Which candidate's mean is closest to the reference's mean (|difference| bootstrapped over
    both sides' seeds), or, with `lower_is_better` and no reference, which has the lowest mean.
    A winner needs ≥ 2 values on both sides and an interval entirely below the runner-up's."""
    candidates = {m: v for m, v in candidates.items() if len(v)}
    if not candidates or (not lower_is_better and not reference):
        return Verdict(None)
    ref = None if lower_is_better else _resampled_means(reference, resamples, seed + 1)
    scores, intervals = {}, {}
    for i, (method, values) in enumerate(candidates.items()):
        means = _resampled_means(values, resamples, seed + 2 + i)
        samples = means if ref is None else np.abs(means - ref)
        scores[method] = float(np.mean(values)) if ref is None else abs(float(np.mean(values)) - float(np.mean(reference)))
        intervals[method] = _percentiles(samples, level)
    order = sorted(scores, key=lambda m: scores[m])
    best = order[0]
    if len(order) == 1:
        return Verdict(best)
    runner = order[1]
    small = min(len(candidates[best]), len(candidates[runner]), len(reference) if reference else math.inf)
    if small >= 2 and intervals[best][1] < intervals[runner][0]:
        return Verdict(best)
    tied = tuple(m for m in order if intervals[m][0] <= intervals[best][1] or m in (best, runner))
    return Verdict(None, tied)
