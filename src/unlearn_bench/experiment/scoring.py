"""The one scoring path of every run (a single request, each request of a sequence, an evaluate-only run):
the models' outputs on the evaluated splits, the paper's metrics and columns, the warnings about the
unlearned model, the lenses and the distances to the gold model."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import numpy as np
import torch
from omegaconf import OmegaConf

from unlearn_bench.experiment.setup import Experiment, split_sets
from unlearn_bench.metrics.lenses import compute_lenses, lens_columns, timed
from unlearn_bench.metrics.objective import distance_to_gold
from unlearn_bench.metrics.reference_memo import fingerprint, role_memo
from unlearn_bench.metrics.split_metrics import (
    SPLITS,
    metrics_from_outputs,
    model_outputs,
    paper_columns,
    tuning_columns,
    unlearned_model_warnings,
)

log = logging.getLogger(__name__)
ROLES = ("unlearned", "original", "gold")
# what score() returns: every record (and every request of a sequence) holds these
VERDICT_FIELDS = ("metrics", "paper_columns", "lenses", "lens_columns", "gap_to_gold", "distance_to_gold",
                  "tuning_objective", "warnings")


def evaluation_context(exp: Experiment) -> str:
    """A digest of everything a reference model's evaluation depends on besides the model itself."""
    split, cfg = exp.split, exp.cfg
    indices = (split.retain_idx, split.forget_idx, split.test_retain_idx, split.test_forget_idx, split.val_retain_idx)
    return fingerprint(exp.material(), *(np.asarray(i) for i in indices), str(exp.device), cfg.eval_batch_size,
                       OmegaConf.to_container(cfg.trainer, resolve=True))


def outputs_on(exp: Experiment, model: torch.nn.Module, eval_sets: dict) -> dict:
    """(logits, labels) of `model` on each evaluated split: the one forward pass the metrics and lenses read."""
    return model_outputs(model, eval_sets, exp.device, exp.cfg.eval_batch_size, exp.recipe.num_workers,
                         exp.cfg.trainer)


def metrics_of(exp: Experiment, model: torch.nn.Module, eval_sets: dict | None = None) -> dict[str, float]:
    """The paper's metrics of `model` about exp.split (no lenses): what a benchmark scores a variant by."""
    outputs = outputs_on(exp, model, eval_sets if eval_sets is not None else split_sets(exp, exp.split))
    return metrics_from_outputs(outputs, exp.cfg.protocol.mia_C)


def score(exp: Experiment, models: dict[str, torch.nn.Module], infos: dict[str, dict], *, label: str,
          populations: Callable[[dict], dict] | None = None) -> tuple[dict, dict[str, float]]:
    """The verdict (VERDICT_FIELDS) on `models` (roles unlearned, original, gold; an evaluate-only run may find
    no stored original or gold model: without gold no distances, without either no lenses) about exp.split, and each
    lens's wall seconds. `infos`: the reference models' store records (their keys let a process reuse
    their outputs); `label` names the unlearned model in the warnings logged; `populations(eval_sets)`:
    the population lenses (challenge, KLoM) of a single request."""
    cfg, split = exp.cfg, exp.split
    eval_sets = split_sets(exp, split)
    remember = role_memo({role: (infos.get(role) or {}).get("key") for role in ("original", "gold")},
                         evaluation_context(exp))
    outputs = {role: remember(role, "outputs", functools.partial(outputs_on, exp, model, eval_sets))
               for role, model in models.items()}
    metrics = {role: metrics_from_outputs(out, cfg.protocol.mia_C) for role, out in outputs.items()}
    columns = {role: paper_columns(m, split.task) for role, m in metrics.items()}
    warnings = unlearned_model_warnings(metrics["unlearned"], exp.data.num_classes, models["unlearned"])
    for warning in warnings:
        log.warning("%s: %s", label, warning)
    timings: dict[str, float] = {}
    has_gold = "gold" in models
    lenses: dict = {}
    if has_gold and "original" in models:
        lenses = compute_lenses(cfg.get("lenses"), exp, exp.store, exp.material(), models, eval_sets,
                                metrics["original"]["forget_train_acc"], exp.device, cfg.seed, cfg.eval_batch_size,
                                logits={role: {s: out[s][0] for s in SPLITS} for role, out in outputs.items()},
                                remember=remember, timings=timings)
        if populations is not None:
            with timed(timings, "populations"):
                lenses["populations"] = populations(eval_sets)
    else:
        log.info("No %s model of this experiment in the model store: no lenses%s.",
                 "original" if has_gold else "gold", "" if has_gold else " and no distance to gold")
    verdict = {
        "metrics": metrics,
        "paper_columns": columns,
        "lenses": lenses,
        "lens_columns": {role: lens_columns(lenses, split.task, role) for role in ROLES if role in models},
        "gap_to_gold": ({k: metrics["unlearned"][k] - metrics["gold"][k] for k in metrics["gold"]}
                        if has_gold else None),
        "distance_to_gold": distance_to_gold(columns["unlearned"], columns["gold"]) if has_gold else None,
        # what a hyperparameter search minimises: the same distance on the validation split
        "tuning_objective": (distance_to_gold(*(tuning_columns(metrics[r], split.task) for r in ("unlearned", "gold")))
                             if has_gold else None),
        "warnings": warnings,
    }
    return verdict, timings
