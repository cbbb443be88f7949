"""U-LiRA's shadow models: pairs of models trained with and without complementary halves of a
candidate pool (forget samples + samples the target never saw), through the model store, so they
are trained once and reused by every method (per run seed: the seed also carves the validation
split, so each seed has its own training data and shadows).

Choices beyond Hayes et al. 2024 (stated so results can be read):
- the pool: up to `max_forget` forget training samples and up to `max_heldout` never-trained samples
  (the forget class's test samples for class/sub-class tasks, test samples for random forgetting),
  drawn with `ulira.seed`; forget samples outside the pool stay in every shadow's training set, as
  they were in the original's;
- pair p splits the pool at random into halves A, B: shadow (p, 0) trains on retain + A, shadow (p, 1)
  on retain + B, so every candidate is IN for exactly half of the shadows;
- shadows use the original's recipe, model and data; their init/training seed is derived from
  `ulira.seed` and the shadow's index, not from the run's seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import ConcatDataset

from unlearn_bench.metrics.split_metrics import predict
from unlearn_bench.metrics.ulira import attack_metrics, likelihood_ratio, logit_confidence
from unlearn_bench.training.module import fit_classifier
from unlearn_bench.utils.errors import UnlearnBenchError, build


@dataclass(frozen=True)
class ULiRAConfig:
    enabled: bool = False
    shadow_pairs: int = 4
    max_forget: int = 200
    max_heldout: int = 200
    fixed_variance: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.shadow_pairs < 1 or self.max_forget < 1 or self.max_heldout < 1:
            raise UnlearnBenchError(
                f"lenses.ulira needs shadow_pairs, max_forget and max_heldout ≥ 1; got {self}.")
        if not self.fixed_variance and self.shadow_pairs < 2:
            raise UnlearnBenchError("lenses.ulira.fixed_variance=false needs lenses.ulira.shadow_pairs ≥ 2.")


def _digest(array) -> str:
    return hashlib.sha256(np.asarray(array, dtype=np.int64).tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Pool:
    forget: np.ndarray  # indices into the training split
    heldout: np.ndarray  # indices into the test split
    in_masks: np.ndarray  # (shadows, len(forget) + len(heldout)) bool

    @property
    def is_member(self) -> np.ndarray:
        return np.r_[np.ones(len(self.forget), int), np.zeros(len(self.heldout), int)]


def make_pool(split, cfg: ULiRAConfig) -> Pool:
    rng = np.random.default_rng(cfg.seed)
    heldout_from = split.test_retain_idx if split.task == "random" else split.test_forget_idx
    if len(heldout_from) == 0:
        raise UnlearnBenchError("U-LiRA needs never-trained samples of the forget set's kind but the test split "
                                "has none; set lenses.ulira.enabled=false.")

    def sample(idx, k):
        return np.sort(rng.choice(idx, size=min(k, len(idx)), replace=False))

    forget, heldout = sample(split.forget_idx, cfg.max_forget), sample(heldout_from, cfg.max_heldout)
    n = len(forget) + len(heldout)
    masks = []
    for _ in range(cfg.shadow_pairs):
        half = np.zeros(n, dtype=bool)
        half[rng.permutation(n)[: n // 2]] = True
        masks += [half, ~half]
    return Pool(forget, heldout, np.stack(masks))


def train_reference(exp, store, material: dict, train_set, val_set, seed: int, name: str):
    """A model of the run's architecture and recipe, initialised and trained from `seed` on `train_set`
    (epochs selected on `val_set`): from `store`, or trained and stored. (model, store record)"""
    recipe = build(exp.cfg.training)

    def build_model():
        torch.manual_seed(seed)
        return exp.build_model()

    def fit(net):
        return fit_classifier(net, train_set, val_set, recipe, exp.cfg.trainer, seed, name=name, from_scratch=True)

    return store.get_or_train(material, build_model, fit)


def shadow_models(exp, store, material: dict, split, pool: Pool, cfg: ULiRAConfig) -> list[torch.nn.Module]:
    """The 2·shadow_pairs shadows, from `store` or trained (progress logged by the trainer)."""
    outside_pool = np.setdiff1d(split.forget_idx, pool.forget)
    base = {k: v for k, v in material.items() if k != "seed"}
    models = []
    for i, mask in enumerate(pool.in_masks):
        in_forget, in_heldout = pool.forget[mask[: len(pool.forget)]], pool.heldout[mask[len(pool.forget):]]
        train_idx = np.sort(np.r_[split.retain_idx, outside_pool, in_forget]).astype(int)
        shadow_seed = 100_000 + 1_000 * cfg.seed + i
        label = f"U-LiRA shadow {i + 1}/{len(pool.in_masks)}"
        train_set = ConcatDataset([exp.dataset("train", train_idx, train_transform=True),
                                   exp.dataset("test", in_heldout, train_transform=True)])
        shadow_material = {**base, "role": "ulira_shadow", "seed": shadow_seed, "split_seed": material["seed"],
                           "train": _digest(train_idx),
                           "test_in": _digest(in_heldout)}
        models.append(train_reference(exp, store, shadow_material, train_set, exp.dataset("val"), shadow_seed,
                                      label)[0])
    return models


def candidate_outputs(model: torch.nn.Module, exp, pool: Pool, device: torch.device,
                      batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels of the pool's candidates: its forget samples, then its never-trained ones."""
    outputs = [predict(model, s, device, batch_size)
               for s in (exp.dataset("train", pool.forget), exp.dataset("test", pool.heldout))]
    return torch.cat([o[0] for o in outputs]), torch.cat([o[1] for o in outputs])


def ulira_attack(targets: dict[str, tuple[torch.Tensor, torch.Tensor]],
                 shadows: list[tuple[torch.Tensor, torch.Tensor]], pool: Pool, cfg: ULiRAConfig) -> dict:
    """Attack metrics (%) per target model, from each model's candidate_outputs: forget samples
    (members) vs never-trained samples."""
    shadow_phi = np.stack([logit_confidence(*outputs) for outputs in shadows])
    out = {"n_shadows": len(shadows), "n_forget": len(pool.forget), "n_heldout": len(pool.heldout)}
    for role, outputs in targets.items():
        scores = likelihood_ratio(logit_confidence(*outputs), shadow_phi, pool.in_masks, cfg.fixed_variance)
        out[role] = attack_metrics(scores, pool.is_member)
    return out
