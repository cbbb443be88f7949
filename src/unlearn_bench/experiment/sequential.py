"""Sequential forget requests (task.requests = K): K disjoint forget sets forgotten in turn on the
same model, each request running the method on the previous request's output. After each request
the model is scored against the gold model retrained without everything forgotten so far.

Class forgetting forgets task.forget, then the next class indices (wrapping around); random
forgetting draws K disjoint sets of n_forget samples (seeded by task.seed). SSD reuses the original
model's stored []_D unless sequential.recompute_importance=true, which recomputes it with the
current model on the training data not yet forgotten."""

from __future__ import annotations

import hashlib
import logging
import time

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from unlearn_bench.cli.interrupts import FinalWrite
from unlearn_bench.data.forget import ForgetSplit, RandomTask, _resolve_name
from unlearn_bench.data.prepare import PreparedData
from unlearn_bench.experiment.pipeline import (
    Experiment,
    architecture,
    build_context,
    build_method,
    load_data,
    resolve_device,
    split_sets,
    train_gold,
    train_models,
    unlearn,
)
from unlearn_bench.experiment.record import versions
from unlearn_bench.experiment.rescue import save_run
from unlearn_bench.metrics.divergence import mean_js
from unlearn_bench.metrics.lenses import forget_and_retain_splits
from unlearn_bench.metrics.objective import distance_to_gold
from unlearn_bench.metrics.split_metrics import (
    SPLITS,
    metrics_from_outputs,
    model_outputs,
    paper_columns,
    unlearned_model_warnings,
)
from unlearn_bench.training.store import ModelStore
from unlearn_bench.utils.errors import UnlearnBenchError

log = logging.getLogger(__name__)


def request_masks(task, data: PreparedData) -> list[tuple[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """(name, (train, val, test) masks) of each of the task's requests; the requests are disjoint."""
    k = task.requests
    if task.name == "class":
        first = _resolve_name(task.forget, data.bundle.classes, "class", data.bundle.aliases)
        if k >= data.num_classes:
            raise UnlearnBenchError(f"task.requests={k} would forget every class of {data.bundle.name} "
                                    f"({data.num_classes}); use at most {data.num_classes - 1}.")
        labels = [(first + i) % data.num_classes for i in range(k)]
        return [(data.bundle.classes[c], tuple(s.targets.numpy() == c for s in (data.train, data.val, data.test)))
                for c in labels]
    if isinstance(task, RandomTask):
        n_train = len(data.train)
        if k * task.n_forget >= n_train:
            raise UnlearnBenchError(f"task.requests × task.n_forget = {k * task.n_forget} must stay below the "
                                    f"{n_train} training samples; lower task.requests or task.n_forget.")
        order = np.random.default_rng(task.seed).permutation(n_train)
        requests = []
        for i in range(k):
            mask = np.zeros(n_train, dtype=bool)
            mask[order[i * task.n_forget:(i + 1) * task.n_forget]] = True
            requests.append((f"{task.n_forget} random samples (request {i + 1})",
                             (mask, np.zeros(len(data.val), bool), np.zeros(len(data.test), bool))))
        return requests
    raise UnlearnBenchError(f"task.requests > 1 is defined for class and random forgetting, not {task.name}.")


def cumulative_splits(task, data: PreparedData) -> tuple[list[ForgetSplit], list[ForgetSplit]]:
    """Per request k: the split of request k alone (what the method forgets, retain = all not yet
    forgotten), and the split of requests 1..k together (what the gold model and the scores see)."""
    masks = request_masks(task, data)
    alone, together = [], []
    seen = [np.zeros(len(s), bool) for s in (data.train, data.val, data.test)]
    for name, request in masks:
        seen = [a | b for a, b in zip(seen, request, strict=True)]
        names = [n for n, _ in masks[: len(together) + 1]]
        together.append(_split(task.name, " + ".join(names), seen, seen))
        alone.append(_split(task.name, name, request, seen))
    return alone, together


def _split(task: str, target: str, forget: list, gone: list) -> ForgetSplit:
    """Forget side from `forget`; retain side: everything not in `gone` (forgotten so far)."""
    train, val, test = forget
    return ForgetSplit(task=task, target=target, forget_idx=np.flatnonzero(train),
                       retain_idx=np.flatnonzero(~gone[0]), test_forget_idx=np.flatnonzero(test),
                       test_retain_idx=np.flatnonzero(~gone[2]), val_retain_idx=np.flatnonzero(~gone[1]))


def _weights_digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def run_sequence(cfg: DictConfig, task, tracker) -> dict:
    """Run the method on each request in turn; write one record holding every step and log it to
    `tracker` (a tracking.RunTracker)."""
    method_name = build_method(cfg, task.name).name
    device = resolve_device(cfg.trainer.accelerator)
    data = load_data(cfg)
    alone, together = cumulative_splits(task, data)
    exp = Experiment(cfg, data, together[0])
    material = exp.material()
    store = ModelStore(f"{cfg.paths.cache_dir}/models")
    recipe, (original, original_info), _ = train_models(exp, store, material, gold=False, logger=tracker.logger)
    recompute = bool((cfg.get("sequential") or {}).get("recompute_importance", False))
    model, steps = original, []
    for k, (request, so_far) in enumerate(zip(alone, together, strict=True), start=1):
        log.info("Request %d/%d: %s", k, len(alone), request.describe())
        gold, gold_info = train_gold(exp, store, material, so_far, recipe, logger=tracker.logger)
        importance = None
        train_idx = None
        if recompute and k > 1:
            train_idx = np.setdiff1d(np.arange(len(data.train)), together[k - 2].forget_idx)
            importance = {"data": material["data"], "dataset": material["dataset"], "order": "class_sorted",
                          "model": _weights_digest(model), "train": hashlib.sha256(train_idx.tobytes()).hexdigest()[:16]}
        method = build_method(cfg, task.name)
        ctx = build_context(exp, request, model, original_info, material, recipe, device,
                            train_idx=train_idx, importance_material=importance).for_method(method)
        torch.manual_seed(cfg.seed)
        start = time.perf_counter()
        model = unlearn(method, model, ctx, gold, gold_info)
        measured_s = time.perf_counter() - start
        steps.append(_score_step(k, so_far, request, exp, {"unlearned": model, "original": original, "gold": gold},
                                 cfg, device, method, measured_s, gold_info))
    record = _record(cfg, method_name, data, task, steps, original_info)
    with FinalWrite() as final:
        path = save_run(cfg, record, model)  # the model after the last request
        final.written = str(path)
    tracker.log_results(record, path)
    print(_summary(record))
    log.info("Results written to %s", path)
    return record


def _score_step(k: int, so_far: ForgetSplit, request: ForgetSplit, exp, models: dict, cfg, device, method,
                measured_s: float, gold_info: dict) -> dict:
    sets = split_sets(exp, so_far)
    outputs = {role: model_outputs(m, sets, device, cfg.eval_batch_size, trainer_cfg=cfg.trainer)
               for role, m in models.items()}
    metrics = {role: metrics_from_outputs(out, cfg.protocol.mia_C) for role, out in outputs.items()}
    columns = {role: paper_columns(m, so_far.task) for role, m in metrics.items()}
    warnings = unlearned_model_warnings(metrics["unlearned"], exp.data.num_classes, models["unlearned"])
    for warning in warnings:
        log.warning("%s, request %d: %s", method.name, k, warning)
    js = {split: mean_js(outputs["unlearned"][split][0], outputs["gold"][split][0])
          for split in forget_and_retain_splits(so_far.task)}
    return {
        "request": k, "forgotten": so_far.target, "request_target": request.target,
        "split": {"forget_train": len(so_far.forget_idx), "retain_train": len(so_far.retain_idx),
                  "request_forget_train": len(request.forget_idx)},
        "metrics": metrics, "paper_columns": columns,
        "gap_to_gold": {key: metrics["unlearned"][key] - metrics["gold"][key] for key in metrics["gold"]},
        "distance_to_gold": distance_to_gold(columns["unlearned"], columns["gold"]),
        "js_to_gold": js,
        "timing": {"method_s": method.report.get("method_s", measured_s), "measured_s": measured_s,
                   "gold_train_s": gold_info.get("train_s"), "gold_cache_hit": gold_info.get("cache_hit")},
        "method_report": method.report,
        "warnings": warnings,
        "gold_model": gold_info.get("key"),
        "split_names": list(SPLITS),
    }


def _record(cfg, method_name: str, data, task, steps: list[dict], original_info: dict) -> dict:
    last = steps[-1]
    return {
        "method": method_name, "dataset": cfg.dataset.name, "model": cfg.model.name,
        "architecture": architecture(cfg.model), "task": task.name,
        "forget": last["forgotten"], "seed": cfg.seed, "requests": len(steps),
        "recompute_importance": bool((cfg.get("sequential") or {}).get("recompute_importance", False)),
        "sequence": steps,
        # the final request in the single-request fields, so the record reads like any other
        "metrics": last["metrics"], "paper_columns": last["paper_columns"], "gap_to_gold": last["gap_to_gold"],
        "distance_to_gold": last["distance_to_gold"], "timing": last["timing"],
        "method_report": last["method_report"], "split": last["split"],
        "warnings": [f"request {step['request']}: {w}" for step in steps for w in step["warnings"]],
        "models": {"original": original_info},
        "config": OmegaConf.to_container(cfg, resolve=True), "versions": versions(),
    }


def _summary(record: dict) -> str:
    lines = [f"\n{record['method']}: {record['requests']} sequential requests (accuracies in %)",
             f"{'request':>8}{'Dr':>9}{'Df':>9}{'gold Dr':>9}{'gold Df':>9}{'dist':>8}"]
    for step in record["sequence"]:
        u, g = step["paper_columns"]["unlearned"], step["paper_columns"]["gold"]
        lines.append(f"{step['request']:>8}{u['Dr']:>9.2f}{u['Df']:>9.2f}{g['Dr']:>9.2f}{g['Df']:>9.2f}"
                     f"{step['distance_to_gold']:>8.2f}")
    return "\n".join(lines) + "\n"
