"""The paper's membership-inference attack: logistic regression on the entropy of the softmax."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of softmax(logits), row by row."""
    return torch.special.entr(torch.softmax(logits.double(), dim=1)).sum(1)


def mia_score(member: np.ndarray, nonmember: np.ndarray, target: np.ndarray) -> float:
    """% of `target` samples a balanced logistic regression, fit on member (1) vs non-member (0)
    entropies, calls members. The paper's members are Dr-train, non-members the test split, and
    the target the forget training samples."""
    if len(target) == 0:
        return float("nan")
    features = np.concatenate([member, nonmember]).reshape(-1, 1)
    labels = np.concatenate([np.ones(len(member)), np.zeros(len(nonmember))])
    attacker = LogisticRegression(class_weight="balanced").fit(features, labels)
    return float(attacker.predict(np.asarray(target).reshape(-1, 1)).mean() * 100.0)
