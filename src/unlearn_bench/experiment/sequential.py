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
from omegaconf import DictConfig

from unlearn_bench.cli.interrupts import FinalWrite
from unlearn_bench.data.forget import ForgetSplit, RandomTask, _resolve_name
from unlearn_bench.data.prepare import PreparedData
from unlearn_bench.experiment.record import make_record
from unlearn_bench.experiment.rescue import save_run
from unlearn_bench.experiment.scoring import VERDICT_FIELDS, score
from unlearn_bench.experiment.setup import Experiment, build_method, load_data
from unlearn_bench.experiment.single import method_timing, protocol_record, unlearn
from unlearn_bench.metrics.populations import population_config
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
    """Run the method on each request in turn, scoring each as a single request is scored
    (experiment/scoring.py); write one record holding every step and log it to `tracker` (a
    tracking.RunTracker)."""
    if population_config(cfg.get("lenses"))[0] is not None:
        raise UnlearnBenchError("lenses.challenge and lenses.klom score one forget request; with task.requests > 1 "
                                "set lenses.challenge.enabled=false lenses.klom.enabled=false.")
    method_name = build_method(cfg, task.name).name
    data = load_data(cfg)
    alone, together = cumulative_splits(task, data)
    exp = Experiment(cfg, data, together[0], logger=tracker.logger)
    material = exp.material()
    original, original_info = exp.original()
    recompute = bool((cfg.get("sequential") or {}).get("recompute_importance", False))
    model, steps, protocol, gold_info = original, [], None, {}
    for k, (request, so_far) in enumerate(zip(alone, together, strict=True), start=1):
        log.info("Request %d/%d: %s", k, len(alone), request.describe())
        gold, gold_info = exp.gold(so_far)
        importance = None
        train_idx = None
        if recompute and k > 1:
            train_idx = np.setdiff1d(np.arange(len(data.train)), together[k - 2].forget_idx)
            importance = {"data": material["data"], "dataset": material["dataset"], "order": "class_sorted",
                          "model": _weights_digest(model), "train": hashlib.sha256(train_idx.tobytes()).hexdigest()[:16]}
        method = build_method(cfg, task.name)
        full = exp.context(request, model, original_info, train_idx=train_idx, importance_material=importance)
        ctx = full.for_method(method)
        if protocol is None:
            protocol = protocol_record(cfg, full.importance_material["order"])
        torch.manual_seed(cfg.seed)
        start = time.perf_counter()
        model = unlearn(method, model, ctx, gold, gold_info)
        measured_s = time.perf_counter() - start
        verdict, lens_s = score(exp.with_split(so_far), {"unlearned": model, "original": original, "gold": gold},
                                {"original": original_info, "gold": gold_info}, label=f"{method.name}, request {k}")
        steps.append({
            "request": k, "forgotten": so_far.target, "request_target": request.target,
            "split": {"forget_train": len(so_far.forget_idx), "retain_train": len(so_far.retain_idx),
                      "request_forget_train": len(request.forget_idx)},
            **verdict,
            "timing": {**method_timing(method, measured_s, original_info, gold_info, lens_s),
                       "gold_cache_hit": gold_info.get("cache_hit")},
            "method_report": method.report, "data_read": ctx.data_read(), "data_used": list(method.data_used),
            "gold_model": gold_info.get("key"),
        })
        log.info("Request %d/%d: distance to gold %.2f", k, len(alone), verdict["distance_to_gold"])
    last = steps[-1]
    record = make_record(
        cfg, together[-1], {**{key: last[key] for key in VERDICT_FIELDS},
                            "warnings": [f"request {step['request']}: {w}" for step in steps for w in step["warnings"]]},
        method=method_name,
        data_used=last["data_used"],
        data_read=sorted({name for step in steps for name in step["data_read"]}), protocol=protocol,
        timing=last["timing"], method_report=last["method_report"],
        models={"original": original_info, "gold": gold_info},
        requests=len(steps), recompute_importance=recompute, sequence=steps)
    with FinalWrite() as final:
        path = save_run(cfg, record, model)  # the model after the last request
        final.written = str(path)
    tracker.log_results(record, path)
    print(_summary(record))
    log.info("Results written to %s", path)
    return record


def _summary(record: dict) -> str:
    lines = [f"\n{record['method']}: {record['requests']} sequential requests (accuracies in %)",
             f"{'request':>8}{'Dr':>9}{'Df':>9}{'gold Dr':>9}{'gold Df':>9}{'dist':>8}"]
    for step in record["sequence"]:
        u, g = step["paper_columns"]["unlearned"], step["paper_columns"]["gold"]
        lines.append(f"{step['request']:>8}{u['Dr']:>9.2f}{u['Df']:>9.2f}{g['Dr']:>9.2f}{g['Df']:>9.2f}"
                     f"{step['distance_to_gold']:>8.2f}")
    return "\n".join(lines) + "\n"
