"""The paper's membership-inference attack: logistic regression on the entropy of the softmax."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of softmax(logits), row by row."""
    return torch.special.entr(torch.softmax(logits.double(), dim=1)).sum(1)


def mia_score(member: np.ndarray, nonmember: np.ndarray, target: np.ndarray, C: float = 1.0) -> float:
    """% of `target` samples a balanced logistic regression, fit on member (1) vs non-member (0)
    entropies, calls members. The paper's members are Dr-train, non-members the test split, and
    the target the forget training samples (never among the samples the attack is fit on).
    C: inverse L2 strength. The official code fits a multinomial (softmax) regression with C = 1; for
    two classes that is the binary fit with C = 2 (protocol=official): the softmax's two weight
    vectors ±w/2 carry half the penalty of the binary weight w (‖w/2‖² + ‖w/2‖² = ‖w‖²/2)."""
    if len(target) == 0:
        return float("nan")
    if not all(np.isfinite(np.asarray(a, dtype=float)).all() for a in (member, nonmember, target)):
        return float("nan")  # a diverged model's entropies: no attack to fit
    features = np.concatenate([member, nonmember]).reshape(-1, 1)
    labels = np.concatenate([np.ones(len(member)), np.zeros(len(nonmember))])
    attacker = LogisticRegression(class_weight="balanced", C=C).fit(features, labels)
    return float(attacker.predict(np.asarray(target).reshape(-1, 1)).mean() * 100.0)
