"""The single number a hyperparameter search minimises: distance to the gold model."""

from __future__ import annotations

import math


def distance_to_gold(unlearned: dict[str, float], gold: dict[str, float],
                     keys: tuple[str, ...] = ("Dr", "Df", "MIA")) -> float:
    """Mean absolute gap, in points, between the unlearned and the gold model's Dr, Df and MIA
    (the paper's table columns); lower is better, 0 means indistinguishable from retraining."""
    gaps = [abs(unlearned[k] - gold[k]) for k in keys
            if unlearned.get(k) is not None and gold.get(k) is not None
            and not math.isnan(unlearned[k]) and not math.isnan(gold[k])]
    return sum(gaps) / len(gaps) if gaps else math.nan
