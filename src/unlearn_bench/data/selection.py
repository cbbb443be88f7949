"""Which training samples a random-forgetting request forgets: a uniform draw, or the samples a
difficulty score ranks at one level (Zhao et al., "What makes unlearning hard and what to do about
it", NeurIPS 2024; their code kairanzhao/RUM f593c9d, main_forget.py `select_fs`): `high` the n
highest scores, `low` the n lowest, `mid` the n closest to the median, `mix` a third of each.
Ties are broken by a seeded permutation, so a selection is reproducible and unbiased among equals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unlearn_bench.utils.errors import UnlearnBenchError

SCORES = ("uniform", "memorization", "entanglement")
LEVELS = ("high", "mid", "low", "mix")


@dataclass(frozen=True)
class Selection:
    """`by`: uniform, memorization (estimated from `models` models trained on complementary random
    halves of the training split) or entanglement (the original's embedding distance to the training
    split's centroid); `level`: which scores; `seed`: the draw, the halves and the tie-breaks."""

    by: str = "uniform"
    level: str = "high"
    models: int = 8
    seed: int = 0

    def __post_init__(self):
        if self.by not in SCORES:
            raise UnlearnBenchError(f"task.selection.by must be one of {', '.join(SCORES)}; got {self.by!r}.")
        if self.level not in LEVELS:
            raise UnlearnBenchError(f"task.selection.level must be one of {', '.join(LEVELS)}; got {self.level!r}.")
        if self.by == "memorization" and (self.models < 2 or self.models % 2):
            raise UnlearnBenchError(
                "task.selection.models must be even and ≥ 2 (pairs of models trained on complementary halves, "
                f"so every sample is in the training data of half of them); got {self.models}.")

    @property
    def scored(self) -> bool:
        return self.by != "uniform"

    def describe(self, n: int) -> str:
        if not self.scored:
            return f"{n} random samples"
        return f"{n} {self.level}-{self.by} samples"


def ranked(scores: np.ndarray, seed: int, key: np.ndarray) -> np.ndarray:
    """Indices by ascending `key`, ties in a seeded random order."""
    ties = np.random.default_rng(seed).permutation(len(scores))
    return np.lexsort((ties, key))


def select_by_score(scores: np.ndarray, n: int, level: str, seed: int) -> np.ndarray:
    """The indices (sorted) of the n samples `level` picks from `scores` (one per training sample).
    `mix` takes n − 2⌊n/3⌋ of the highest, then ⌊n/3⌋ of the lowest and ⌊n/3⌋ nearest the median
    among those not taken yet (the authors' code takes ⌊n/3⌋ of each, so their sets can overlap)."""
    scores = np.asarray(scores, dtype=np.float64)
    if not 0 < n < len(scores):
        raise UnlearnBenchError(f"task.n_forget must lie in 1..{len(scores) - 1}, got {n}.")
    if not np.isfinite(scores).all():
        raise UnlearnBenchError("The difficulty scores hold NaN or infinite values; cannot rank the samples.")
    high = ranked(scores, seed, -scores)
    low = ranked(scores, seed, scores)
    mid = ranked(scores, seed, np.abs(scores - np.median(scores)))
    if level == "high":
        chosen = high[:n]
    elif level == "low":
        chosen = low[:n]
    elif level == "mid":
        chosen = mid[:n]
    elif level == "mix":
        third = n // 3
        taken = list(high[: n - 2 * third])
        for order in (low, mid):
            seen = set(taken)
            taken += [i for i in order if i not in seen][:third]
        chosen = np.asarray(taken)
    else:
        raise UnlearnBenchError(f"task.selection.level must be one of {', '.join(LEVELS)}; got {level!r}.")
    return np.sort(chosen).astype(int)
