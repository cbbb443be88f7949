"""Difficulty scores of training samples, for forget sets graded by difficulty (Zhao et al.,
NeurIPS 2024; their code kairanzhao/RUM f593c9d):

- memorization (Feldman & Zhang 2020): P[f(x) = y | x trained on] − P[f(x) = y | x not trained on],
  estimated from pairs of models trained on complementary random halves of the training split, so
  every sample is in the training data of exactly half of them (through the model store: trained
  once per data, recipe and selection seed, reused by every method);
- entanglement: the distance of a sample's embedding (the classifier's input) under the original
  model from the training split's centroid, as the authors rank samples into entanglement groups
  (surgical_plugins/cluster.py `get_distance`); the entanglement score ES of the forget set that
  results is `entanglement_score` (their surgical_plugins/overlap.py `calculate_FC`).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch.utils.data import DataLoader

from unlearn_bench.data.selection import Selection
from unlearn_bench.metrics.shadows import train_reference
from unlearn_bench.metrics.split_metrics import predict

MEMORIZATION_SEED = 400_000  # + 1000·selection.seed + model index: apart from the shadows' and populations' seeds


def complementary_halves(n: int, pairs: int, seed: int) -> np.ndarray:
    """(2·pairs, n) bool: model 2p trains on a random half of the n samples, model 2p + 1 on the rest."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((2 * pairs, n), dtype=bool)
    for p in range(pairs):
        half = rng.permutation(n)[: n // 2]
        masks[2 * p, half] = True
        masks[2 * p + 1] = ~masks[2 * p]
    return masks


def memorization_scores(in_masks: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Per sample: the mean of `correct` over the models that trained on it minus the mean over those
    that did not (both (models, samples); each sample needs at least one model of each kind)."""
    in_masks, correct = np.asarray(in_masks, dtype=bool), np.asarray(correct, dtype=np.float64)
    n_in, n_out = in_masks.sum(0), (~in_masks).sum(0)
    if (n_in == 0).any() or (n_out == 0).any():
        raise ValueError("every sample needs at least one model trained with it and one without it")
    return (correct * in_masks).sum(0) / n_in - (correct * ~in_masks).sum(0) / n_out


def centroid_distances(features: torch.Tensor) -> np.ndarray:
    """Each row's Euclidean distance from the rows' mean."""
    features = features.double()
    return torch.linalg.vector_norm(features - features.mean(0), dim=1).numpy()


def entanglement_score(forget: torch.Tensor, retain: torch.Tensor) -> float:
    """ES = (mean ‖φ − μ_r‖² over the retain set + mean ‖φ − μ_f‖² over the forget set) /
    ((‖μ_r − μ‖² + ‖μ_f − μ‖²) / 2), μ the mean of μ_r and μ_f: high when the two sets overlap in
    the embedding space, low when they lie apart."""
    forget, retain = forget.double(), retain.double()
    mu_f, mu_r = forget.mean(0), retain.mean(0)
    mu = (mu_f + mu_r) / 2
    intra = ((retain - mu_r) ** 2).sum(1).mean() + ((forget - mu_f) ** 2).sum(1).mean()
    inter = (((mu_r - mu) ** 2).sum() + ((mu_f - mu) ** 2).sum()) / 2
    return float(intra / inter)


@torch.no_grad()
def embeddings(model: torch.nn.Module, dataset, device: torch.device, batch_size: int = 256) -> torch.Tensor:
    """The input of the model's classifier (`get_classifier()`) for every sample, in eval mode."""
    captured: list[torch.Tensor] = []
    hook = model.get_classifier().register_forward_pre_hook(lambda _m, inputs: captured.append(inputs[0].detach()))
    was_training = model.training
    model.eval().to(device)
    try:
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            model(batch[0].to(device))
    finally:
        hook.remove()
        model.train(was_training)
    return torch.cat([c.flatten(1).float().cpu() for c in captured])


def _digest(array) -> str:
    return hashlib.sha256(np.asarray(array, dtype=np.int64).tobytes()).hexdigest()[:16]


def memorization_models(exp, store, material: dict, selection: Selection, masks: np.ndarray) -> list:
    """The models of `masks` (complementary_halves), from `store` or trained."""
    base = {k: v for k, v in material.items() if k != "seed"}
    models = []
    for i, mask in enumerate(masks):
        idx = np.flatnonzero(mask)
        seed = MEMORIZATION_SEED + 1_000 * selection.seed + i
        item = {**base, "role": "memorization_model", "seed": seed, "split_seed": material["seed"],
                "train": _digest(idx)}
        models.append(train_reference(exp, store, item, exp.dataset("train", idx, train_transform=True),
                                      exp.dataset("val"), seed, f"memorization model {i + 1}/{len(masks)}")[0])
    return models


def sample_memorization(exp, store, material: dict, selection: Selection, device, batch_size: int) -> np.ndarray:
    """The memorization score of every training sample (see the module docstring)."""
    masks = complementary_halves(len(exp.data.train), selection.models // 2, selection.seed)
    train = exp.dataset("train")
    correct = []
    for model in memorization_models(exp, store, material, selection, masks):
        logits, labels = predict(model, train, device, batch_size)
        correct.append((logits.argmax(1) == labels).numpy())
    return memorization_scores(masks, np.stack(correct))


def summary(scores: np.ndarray, chosen: np.ndarray) -> dict:
    """Where the chosen samples' scores lie among all training samples'."""
    chosen_scores = scores[chosen]
    return {"forget_mean": float(chosen_scores.mean()), "forget_min": float(chosen_scores.min()),
            "forget_max": float(chosen_scores.max()), "train_mean": float(scores.mean()),
            "train_median": float(np.median(scores))}
