"""The lenses that compare populations of models: the NeurIPS'23 challenge score (metrics/challenge.py)
and KLoM (metrics/klom.py), from N models unlearned by the method and N models retrained without the
forget set, each retrained one from its own seed.

- the N retrained models go through the model store (trained once per seed, reused by every method);
- the N unlearned models are the method run N times: `unlearned_from=unlearning_seeds` (what the
  organisers' evaluation code does: N unlearnings of one original with N seeds; a deterministic
  method then gives N identical models, which the score treats as maximally distinguishable), or
  `unlearned_from=originals` (N originals trained from N seeds, each unlearned once; the originals go
  through the store too);
- RA is the accuracy on the retain training samples, TA on the test samples outside the forget
  request (the whole test split for random forgetting), both means over the N models.
Seeds: 200,000 + 1,000·`seed` + i for the i-th retrained model, 300,000 + ... for the i-th original,
the run's seed + 1 + i for the i-th unlearning; none is one of the run's own models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from unlearn_bench.metrics.challenge import bucket_points, challenge_score, logit_scaled_confidence
from unlearn_bench.metrics.klom import klom, margins, summary
from unlearn_bench.metrics.shadows import _digest, train_reference
from unlearn_bench.metrics.split_metrics import predict
from unlearn_bench.utils.errors import UnlearnBenchError

log = logging.getLogger(__name__)
SOURCES = ("unlearning_seeds", "originals")
# forward in 3 splits: forget (confidences, margins), retain training samples (RA), test outside the request (TA)
SETS = ("forget_train", "retain_train", "retain_test")


@dataclass(frozen=True)
class PopulationConfig:
    enabled: bool = False
    n: int = 8
    unlearned_from: str = "unlearning_seeds"
    seed: int = 0
    keep_per_model: bool = False  # the challenge section keeps each model's confidences and accuracies

    def __post_init__(self):
        if self.n < 3:
            raise UnlearnBenchError(f"lenses.challenge.n must be ≥ 3 (the score's buckets reach log(n − 1)), got {self.n}.")
        if self.unlearned_from not in SOURCES:
            raise UnlearnBenchError(f"lenses.challenge.unlearned_from must be one of {', '.join(SOURCES)}, got "
                                    f"{self.unlearned_from!r}.")


def _store_trained(exp, store, material: dict, train_idx, val_idx, seed: int, name: str):
    return train_reference(exp, store, material, exp.dataset("train", train_idx, train_transform=True),
                           exp.dataset("val", val_idx), seed, name)


def retrained_models(exp, store, material: dict, split, cfg: PopulationConfig, offset: int = 0) -> list:
    """N models trained on the retain set only, from their own seeds (`offset` shifts them: the
    unlearned population of method=retrain is N more of these)."""
    base = {k: v for k, v in material.items() if k != "seed"}
    out = []
    for i in range(cfg.n):
        seed = 200_000 + 1_000 * cfg.seed + offset + i
        item = {**base, "role": "retrained_population", "seed": seed, "split_seed": material["seed"],
                "train": _digest(split.retain_idx)}
        out.append(_store_trained(exp, store, item, split.retain_idx, split.val_retain_idx, seed,
                                  f"retrained {offset + i + 1}/{offset + cfg.n}")[0])
    return out


def original_models(exp, store, material: dict, cfg: PopulationConfig) -> list[tuple[torch.nn.Module, dict]]:
    """N originals (the full training split) from their own seeds, with their store records."""
    base = {k: v for k, v in material.items() if k != "seed"}
    out = []
    for i in range(cfg.n):
        seed = 300_000 + 1_000 * cfg.seed + i
        item = {**base, "role": "original_population", "seed": seed, "split_seed": material["seed"]}
        out.append(_store_trained(exp, store, item, None, None, seed, f"original {i + 1}/{cfg.n}"))
    return out


def _outputs(model, eval_sets: dict, device, batch_size: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    return {s: predict(model, eval_sets[s], device, batch_size) for s in SETS}


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).float().mean() * 100) if len(labels) else float("nan")


def population_lenses(cfg: PopulationConfig, use_challenge: bool, use_klom: bool, unlearned: list, retrained: list,
                      eval_sets: dict, device, batch_size: int = 256) -> dict:
    """The challenge score and/or KLoM of the two populations, as a results-record section."""
    u_out = [_outputs(m, eval_sets, device, batch_size) for m in unlearned]
    r_out = [_outputs(m, eval_sets, device, batch_size) for m in retrained]
    labels = u_out[0]["forget_train"][1].numpy()
    out: dict = {"n": cfg.n, "unlearned_from": cfg.unlearned_from, "forget_examples": int(len(labels))}
    if use_challenge:
        def confs(outs):
            return np.stack([logit_scaled_confidence(o["forget_train"][0].numpy(), labels) for o in outs])

        def accs(outs, split):
            return [_accuracy(*o[split]) for o in outs]

        score = challenge_score(confs(u_out), confs(r_out), accs(u_out, "retain_train"), accs(r_out, "retain_train"),
                                accs(u_out, "retain_test"), accs(r_out, "retain_test"))
        buckets = bucket_points(cfg.n)
        counts = [int(((score.epsilons >= start) & (score.epsilons < start + 0.5)).sum()) for start, _ in buckets]
        out["challenge"] = {
            "score": score.score, "forgetting_quality": score.forgetting_quality,
            "retain_ratio": score.retain_ratio, "test_ratio": score.test_ratio,
            "accuracies": {"unlearned_retain": float(np.mean(accs(u_out, "retain_train"))),
                           "retrained_retain": float(np.mean(accs(r_out, "retain_train"))),
                           "unlearned_test": float(np.mean(accs(u_out, "retain_test"))),
                           "retrained_test": float(np.mean(accs(r_out, "retain_test")))},
            "epsilon": {"median": float(np.median(score.epsilons)), "mean": float(np.mean(score.epsilons)),
                        "buckets": [{"from": start, "points": points, "examples": c}
                                    for (start, points), c in zip(buckets, counts, strict=True)],
                        "beyond_buckets": int(len(score.epsilons) - sum(counts))},
            "epsilons": [round(float(e), 4) for e in score.epsilons],
        }
        if cfg.keep_per_model:  # what bench/challenge_n.py subsamples to see what a smaller N would say
            out["challenge"]["per_model"] = {
                name: {"confidences": np.round(confs(outs), 5).tolist(), "retain_acc": accs(outs, "retain_train"),
                       "test_acc": accs(outs, "retain_test")}
                for name, outs in (("unlearned", u_out), ("retrained", r_out))}
    if use_klom:
        def margin_matrix(outs):
            return margins(np.stack([o["forget_train"][0].numpy() for o in outs]), labels)

        values = klom(margin_matrix(u_out), margin_matrix(r_out))
        out["klom"] = {**summary(values), "per_example": [round(float(v), 4) for v in values]}
    return out


def population_config(lenses_cfg) -> tuple[PopulationConfig | None, bool, bool]:
    """(the populations' config or None when neither lens is on, challenge on?, KLoM on?)."""
    section = lambda key: dict((lenses_cfg or {}).get(key) or {})  # noqa: E731
    challenge, klom_section = section("challenge"), section("klom")
    use_challenge, use_klom = bool(challenge.get("enabled", False)), bool(klom_section.get("enabled", False))
    if set(klom_section) - {"enabled"}:
        raise UnlearnBenchError(f"lenses.klom has only `enabled` (it uses lenses.challenge's n and unlearned_from); "
                                f"got {sorted(klom_section)}.")
    if not (use_challenge or use_klom):
        return None, False, False
    try:
        return PopulationConfig(**{**challenge, "enabled": True}), use_challenge, use_klom
    except TypeError as err:
        raise UnlearnBenchError(f"Unknown key under lenses.challenge: {err}; see conf/lenses/default.yaml.") from None


def unlearned_population(cfg: PopulationConfig, unlearn_from: Callable, original, original_info: dict, seed: int,
                         exp=None, store=None, material: dict | None = None) -> list:
    """The N unlearned models: `unlearn_from(start_model, start_info, seed)` N times."""
    if cfg.unlearned_from == "unlearning_seeds":
        log.info("Challenge / KLoM: %d unlearnings of the original, seeds %d..%d", cfg.n, seed + 1, seed + cfg.n)
        return [unlearn_from(original, original_info, seed + 1 + i) for i in range(cfg.n)]
    log.info("Challenge / KLoM: %d originals from their own seeds, each unlearned once", cfg.n)
    return [unlearn_from(model, info, seed) for model, info in original_models(exp, store, material, cfg)]
