"""The lenses beside the paper's metrics: JS divergence to the gold model, ZRF, relearn time and
the U-LiRA per-example attack. Configured by `lenses` (conf/lenses/)."""

from __future__ import annotations

import functools
import logging
import time
from contextlib import contextmanager

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from unlearn_bench.metrics.divergence import ZRF_REDUCTIONS, mean_js, zrf_score
from unlearn_bench.metrics.reference_memo import fingerprint
from unlearn_bench.metrics.relearn import RelearnConfig, relearn_steps
from unlearn_bench.metrics.rmia import label_probability, rmia_attack
from unlearn_bench.metrics.shadows import (
    ULiRAConfig,
    candidate_outputs,
    make_pool,
    shadow_models,
    ulira_attack,
)
from unlearn_bench.metrics.split_metrics import SPLITS, predict
from unlearn_bench.utils.errors import UnlearnBenchError

log = logging.getLogger(__name__)


def _section(cfg: DictConfig | None, key: str) -> dict:
    section = (cfg or {}).get(key) or {}
    return OmegaConf.to_container(section, resolve=True) if isinstance(section, DictConfig) else dict(section)


def lens_configs(cfg: DictConfig | None) -> tuple[bool, dict, RelearnConfig | None, ULiRAConfig | None]:
    """(js on?, zrf section, relearn config or None, ulira config or None), checked."""
    try:
        zrf = {"enabled": True, "reduction": "official", **_section(cfg, "zrf")}
        if zrf["reduction"] not in ZRF_REDUCTIONS:
            raise UnlearnBenchError(f"lenses.zrf.reduction must be one of {', '.join(ZRF_REDUCTIONS)}.")
        relearn = {"enabled": True, **_section(cfg, "relearn")}
        ulira = {"enabled": False, **_section(cfg, "ulira")}
        return (bool((cfg or {}).get("js", True)), zrf,
                RelearnConfig(**{k: v for k, v in relearn.items() if k != "enabled"}) if relearn["enabled"] else None,
                ULiRAConfig(**ulira) if ulira["enabled"] else None)
    except TypeError as err:
        raise UnlearnBenchError(f"Unknown key under lenses: {err}; see conf/lenses/default.yaml.") from err


def forget_and_retain_splits(task: str) -> tuple[str, str]:
    """The forget/retain data the headline JS is read on: test data, except the forget side of
    random forgetting (whose test split holds no forget sample), as for the paper's Df column."""
    return ("forget_train" if task == "random" else "forget_test"), "retain_test"


@contextmanager
def timed(timings: dict | None, name: str):
    """Adds the block's wall seconds to timings[name] (nothing when timings is None)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def compute_lenses(lenses_cfg, exp, store, material: dict, models: dict[str, torch.nn.Module],
                   eval_sets: dict, original_forget_acc: float, device: torch.device, seed: int,
                   batch_size: int = 256, logits: dict[str, dict[str, torch.Tensor]] | None = None,
                   remember=None, timings: dict | None = None) -> dict:
    """The lenses of `models` (roles unlearned, original, gold) as a results-record section.
    `timings` (if given) gets each lens's wall seconds (U-LiRA's shadows apart from its attack).
    `logits` (role -> split -> logits on `eval_sets`): the evaluation's own forward passes, reused
    instead of predicting every split again. `remember(role, what, compute)` (reference_memo.role_memo):
    where a reference model's relearn time comes from an earlier run of the process."""
    remember = remember or (lambda role, what, compute: compute())
    use_js, zrf_cfg, relearn_cfg, ulira_cfg = lens_configs(lenses_cfg)
    out: dict = {}
    if (use_js or zrf_cfg["enabled"]) and logits is None:
        logits = {role: {s: predict(m, eval_sets[s], device, batch_size)[0] for s in SPLITS}
                  for role, m in models.items()}
    if use_js:
        with timed(timings, "js_to_gold"):
            out["js_to_gold"] = {role: {s: mean_js(logits[role][s], logits["gold"][s]) for s in SPLITS}
                                 for role in ("unlearned", "original")}
    if zrf_cfg["enabled"]:
        with timed(timings, "zrf"):
            out.update(_zrf(exp, logits, eval_sets, models, zrf_cfg, device, batch_size))
    if relearn_cfg is not None:
        log.info("Relearn time: fine-tuning on the forget set (at most %d steps per model)", relearn_cfg.max_steps)
        what = "relearn:" + fingerprint(vars(relearn_cfg), original_forget_acc, seed)
        with timed(timings, "relearn"):
            out["relearn"] = {role: remember(role, what, functools.partial(
                                  relearn_steps, models[role], eval_sets["forget_train"], original_forget_acc,
                                  relearn_cfg, device, seed))
                              for role in ("unlearned", "gold")}
        out["relearn_config"] = vars(relearn_cfg) | {"target_acc": original_forget_acc}
    rmia = {"enabled": False, "population": 500, **_section(lenses_cfg, "rmia")}
    if rmia["enabled"] and ulira_cfg is None:
        raise UnlearnBenchError("lenses.rmia needs lenses.ulira.enabled=true: U-LiRA's shadows are RMIA's reference "
                                "models (or use lenses=cpu).")
    if ulira_cfg is not None:
        pool = make_pool(exp.split, ulira_cfg)
        log.info("U-LiRA: %d shadow models on %d forget + %d never-trained samples",
                 len(pool.in_masks), len(pool.forget), len(pool.heldout))
        with timed(timings, "ulira_shadows"):
            shadows = shadow_models(exp, store, material, exp.split, pool, ulira_cfg)
        with timed(timings, "ulira"):
            # one forward pass of each model over the candidates serves both attacks
            targets = {role: candidate_outputs(m, exp, pool, device, batch_size) for role, m in models.items()}
            references = [candidate_outputs(m, exp, pool, device, batch_size) for m in shadows]
            out["ulira"] = ulira_attack(targets, references, pool, ulira_cfg)
        if rmia["enabled"]:
            with timed(timings, "rmia"):
                out["rmia"] = rmia_lens(models, shadows, targets, references, exp, pool, int(rmia["population"]),
                                        ulira_cfg.seed, device, batch_size)
    return out


def _zrf(exp, logits, eval_sets, models, zrf_cfg, device, batch_size) -> dict:
    random_net = exp.initial_model()
    random_logits = predict(random_net, eval_sets["forget_train"], device, batch_size)[0]
    return {"zrf": {role: zrf_score(logits[role]["forget_train"], random_logits, zrf_cfg["reduction"])
                    for role in models},
            "zrf_reduction": zrf_cfg["reduction"]}


def rmia_lens(models: dict, shadows: list, targets: dict, references: list, exp, pool, population: int, seed: int,
              device, batch_size: int) -> dict:
    """RMIA on U-LiRA's candidates (`targets`, `references`: each model's candidate_outputs), its
    shadows the reference models, against `population` test samples outside the pool (never trained
    on by any model)."""
    if population < 1:
        raise UnlearnBenchError(f"lenses.rmia.population must be ≥ 1, got {population}.")
    split = exp.split
    outside = np.setdiff1d(np.r_[split.test_retain_idx, split.test_forget_idx], pool.heldout)
    rng = np.random.default_rng(seed + 1)
    z_idx = np.sort(rng.choice(outside, size=min(population, len(outside)), replace=False))
    population_set = exp.dataset("test", z_idx)

    def probabilities(model, candidates):
        return label_probability(*candidates), label_probability(*predict(model, population_set, device, batch_size))

    refs = [probabilities(m, c) for m, c in zip(shadows, references, strict=True)]
    return rmia_attack({role: probabilities(m, targets[role]) for role, m in models.items()},
                       np.stack([r[0] for r in refs]), pool.in_masks, np.stack([r[1] for r in refs]), pool.is_member)


def lens_columns(lenses: dict, task: str, role: str = "unlearned") -> dict[str, float | None]:
    """The report's lens columns of one model: JS to gold on forget / retain data (×1000, nats),
    ZRF, relearn steps and U-LiRA AUC (%); None where not measured."""
    forget_split, retain_split = forget_and_retain_splits(task)
    js = (lenses.get("js_to_gold") or {}).get(role)
    if role == "gold" and "js_to_gold" in lenses:
        js = {forget_split: 0.0, retain_split: 0.0}
    relearn = (lenses.get("relearn") or {}).get(role) or {}
    ulira = (lenses.get("ulira") or {}).get(role) or {}
    return {
        "JSf": None if js is None or js.get(forget_split) is None else 1000.0 * js[forget_split],
        "JSr": None if js is None or js.get(retain_split) is None else 1000.0 * js[retain_split],
        "ZRF": (lenses.get("zrf") or {}).get(role),
        "RL": relearn.get("steps"),
        "LiRA": ulira.get("auc"),
    }
