"""One forget request: the original and gold models, the method, the scoring, the record."""

from __future__ import annotations

import copy
import functools
import logging
import time
from dataclasses import replace

import torch
from omegaconf import DictConfig

from unlearn_bench.cli.interrupts import FinalWrite
from unlearn_bench.experiment.record import format_table, make_record
from unlearn_bench.experiment.rescue import save_run
from unlearn_bench.experiment.scoring import score
from unlearn_bench.experiment.setup import Experiment, build_method, open_experiment
from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.retrain import Retrain
from unlearn_bench.metrics.populations import (
    population_config,
    population_lenses,
    retrained_models,
    unlearned_population,
)
from unlearn_bench.training.callbacks import duration

log = logging.getLogger(__name__)


def unlearn(method: UnlearningMethod, model, ctx: UnlearnContext, gold, gold_info: dict):
    """The method's output; the retrain row is the gold model itself, given by the experiment."""
    if isinstance(method, Retrain) and method.is_gold:
        ctx.reads.update({"retain_train_set", "val_set"})  # what the gold model was trained on
        return method.gold_row(gold, gold_info)
    return method.unlearn(copy.deepcopy(model), ctx)


def protocol_record(cfg: DictConfig, order: str) -> dict:
    """The record's protocol: its name and the []_D order the method's context used (stored unless per request)."""
    return {"name": cfg.protocol.name, "importance_order": order, "importance_stored": order != "request"}


def method_timing(method: UnlearningMethod, measured_s: float, original_info: dict, gold_info: dict,
                  lens_s: dict) -> dict:
    """The record's timing of one unlearning: the method's own seconds (its report's where it times itself),
    the reference models' training and each lens's wall seconds (the models it trains included)."""
    return {"method_s": method.report.get("method_s", measured_s), "measured_s": measured_s,
            "importance_s": method.report.get("importance_s", 0.0), "original_train_s": original_info.get("train_s"),
            "gold_train_s": gold_info.get("train_s"), "lenses_s": lens_s}


def population_section(exp: Experiment, method: UnlearningMethod, original, original_info: dict, population,
                       use_challenge: bool, use_klom: bool, eval_sets: dict) -> dict:
    """The challenge score and KLoM (metrics/populations.py): the method run `population.n` more times,
    each from a context of its own; for method=retrain, n more retrained models."""
    cfg, split, material = exp.cfg, exp.split, exp.material()

    def unlearn_from(start, start_info, seed):
        fresh = build_method(cfg, split.task)
        context = replace(exp.context(split, start, start_info), seed=seed)
        torch.manual_seed(seed)
        return fresh.unlearn(copy.deepcopy(start), context.for_method(fresh))

    if isinstance(method, Retrain) and method.is_gold:
        unlearned = retrained_models(exp, exp.store, material, split, population, offset=population.n)
    else:
        unlearned = unlearned_population(population, unlearn_from, original, original_info, cfg.seed, exp,
                                         exp.store, material)
    retrained = retrained_models(exp, exp.store, material, split, population)
    return population_lenses(population, use_challenge, use_klom, unlearned, retrained, eval_sets, exp.device,
                             cfg.eval_batch_size)


def run_one(cfg: DictConfig, task, method: UnlearningMethod, tracker) -> dict:
    """One forget request: train (or read) the models, unlearn, score, write and log the record."""
    population, use_challenge, use_klom = population_config(cfg.get("lenses"))  # checked before any training
    exp = open_experiment(cfg, task, logger=tracker.logger)
    split = exp.split
    log.info(split.describe())
    original, original_info = exp.original()
    gold, gold_info = exp.gold()
    full = exp.context(split, original, original_info)
    order = full.importance_material["order"]
    ctx = full.for_method(method)
    torch.manual_seed(cfg.seed)
    log.info("%s: unlearning…", method.name)
    start = time.perf_counter()
    unlearned = unlearn(method, original, ctx, gold, gold_info)
    measured_s = time.perf_counter() - start
    log.info("%s: done in %s.", method.name, duration(measured_s))
    populations = None if population is None else functools.partial(
        population_section, exp, method, original, original_info, population, use_challenge, use_klom)
    verdict, lens_s = score(exp, {"unlearned": unlearned, "original": original, "gold": gold},
                            {"original": original_info, "gold": gold_info}, label=method.name,
                            populations=populations)
    record = make_record(
        cfg, split, verdict, method=method.name, data_used=list(method.data_used), data_read=ctx.data_read(),
        protocol=protocol_record(cfg, order), timing=method_timing(method, measured_s, original_info, gold_info, lens_s),
        method_report=method.report, models={"original": original_info, "gold": gold_info})
    with FinalWrite() as final:
        path = save_run(cfg, record, unlearned)
        final.written = str(path)
    tracker.log_results(record, path)
    print(f"\n{split.describe()} — {method.name} (accuracies and MIA in %)\n{format_table(record)}\n")
    log.info("Results written to %s", path)
    return record
