"""One unlearning experiment: data → forget split → original and gold models → method → evaluation."""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf, open_dict

from unlearn_bench.cli.interrupts import FinalWrite
from unlearn_bench.data.base import ImageDataset
from unlearn_bench.data.forget import ForgetSplit
from unlearn_bench.data.prepare import PreparedData, prepare
from unlearn_bench.data.selection import Selection
from unlearn_bench.data.superclasses import with_superclasses
from unlearn_bench.data.transforms import TransformSpec
from unlearn_bench.experiment.model_keys import config_identity, model_material
from unlearn_bench.experiment.protocol import loader_orders
from unlearn_bench.experiment.record import format_table, versions
from unlearn_bench.experiment.rescue import save_run
from unlearn_bench.experiment.validation import validate_data
from unlearn_bench.importance import ImportanceStore
from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.provenance import without_provenance
from unlearn_bench.methods.retrain import Retrain
from unlearn_bench.metrics.difficulty import (
    centroid_distances,
    embeddings,
    entanglement_score,
    sample_memorization,
)
from unlearn_bench.metrics.difficulty import summary as difficulty_summary
from unlearn_bench.metrics.lenses import compute_lenses, lens_columns, timed
from unlearn_bench.metrics.objective import distance_to_gold
from unlearn_bench.metrics.populations import (
    population_config,
    population_lenses,
    retrained_models,
    unlearned_population,
)
from unlearn_bench.metrics.reference_memo import fingerprint, role_memo
from unlearn_bench.metrics.split_metrics import (
    SPLITS,
    metrics_from_outputs,
    model_outputs,
    paper_columns,
    tuning_columns,
    unlearned_model_warnings,
)
from unlearn_bench.models.checkpoint import original_checkpoint, original_from_checkpoint
from unlearn_bench.tracking import for_role, log_model_source
from unlearn_bench.training.callbacks import duration
from unlearn_bench.training.checkpoints import get_or_train_resumable
from unlearn_bench.training.module import fit_classifier
from unlearn_bench.training.store import ModelStore
from unlearn_bench.utils.errors import UnlearnBenchError, build

log = logging.getLogger(__name__)


def resolve_device(accelerator: str) -> torch.device:
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    if accelerator in ("gpu", "cuda"):
        raise UnlearnBenchError("trainer.accelerator asks for a GPU but CUDA is not available.")
    return torch.device("cpu")


def build_method(cfg: DictConfig, task_name: str) -> UnlearningMethod:
    target = cfg.method.get("_target_")
    try:
        method = build(without_provenance(cfg.method))
    except InstantiationException as err:
        reason = str(err).strip().splitlines()[0].split(", set env var HYDRA_FULL_ERROR")[0].rstrip(":.")
        raise UnlearnBenchError(f"method._target_={target} cannot be built ({reason}): set it to an importable "
                                "class, e.g. unlearn_bench.methods.ssd.SSD, or pick a method=<name>.") from None
    if not isinstance(method, UnlearningMethod):
        raise UnlearnBenchError(f"method._target_={target} builds a {type(method).__name__}, not an unlearning "
                                "method (a subclass of unlearn_bench.methods.base.UnlearningMethod).")
    if task_name not in method.tasks:
        raise UnlearnBenchError(
            f"Method {method.name} is not defined for {task_name} forgetting "
            f"(it supports: {', '.join(method.tasks)})."
        )
    return method


def load_data(cfg: DictConfig) -> PreparedData:
    bundle = build(cfg.dataset.loader)
    superclasses = cfg.dataset.get("superclasses")
    if superclasses is not None:
        fine_count = bundle.num_classes
        bundle = with_superclasses(bundle, OmegaConf.to_container(superclasses, resolve=True))
        if cfg.dataset.num_classes == fine_count:  # the dataset's own count: the model learns the superclasses
            with open_dict(cfg):
                cfg.dataset.num_classes = None
    if cfg.dataset.num_classes is None:  # dataset=image_folder: as many classes as class folders
        with open_dict(cfg):
            cfg.dataset.num_classes = bundle.num_classes
    validate_data(cfg, bundle)
    return prepare(bundle, cfg.dataset.train_subset, cfg.dataset.test_subset, cfg.dataset.val_fraction, cfg.seed)


def forget_labels(split: ForgetSplit, targets: torch.Tensor) -> tuple[int, ...]:
    """The labels the forget request concerns (a forgotten sub-class: its superclass); none for random."""
    if split.task == "random":
        return ()
    return tuple(sorted({int(y) for y in targets.numpy()[split.forget_idx]}))


def _digest(array) -> str:
    return hashlib.sha256(torch.as_tensor(array).numpy().tobytes()).hexdigest()[:16]


class Experiment:
    """The datasets, transforms and model factories of one configuration."""

    def __init__(self, cfg: DictConfig, data: PreparedData, split: ForgetSplit):
        self.cfg, self.data, self.split = cfg, data, split
        self.spec = TransformSpec(tuple(cfg.dataset.mean), tuple(cfg.dataset.std), cfg.model.input_size,
                                  tuple(build(cfg.dataset.augmentations)))
        self.load_size = cfg.dataset.get("load_size")

    def dataset(self, which: str, idx=None, train_transform: bool = False) -> ImageDataset:
        split = getattr(self.data, which)
        if idx is not None:
            split = split.subset(idx)
        return ImageDataset(split, load_size=self.load_size, spec=self.spec, augment=train_transform)

    def build_model(self) -> torch.nn.Module:
        return build(self.cfg.model.net)

    def initial_model(self) -> torch.nn.Module:
        """The untrained network, initialised from the run's seed (so training is reproducible)."""
        torch.manual_seed(self.cfg.seed)
        return self.build_model()

    def material(self) -> dict:
        """Everything that determines the original model; the gold model adds its forget split."""
        return model_material(self.cfg, self.data.bundle.fingerprint())


def _trained(exp: Experiment, store: ModelStore, material: dict, recipe, name: str, train_idx=None, val_idx=None,
             logger=None, identity: dict | None = None):
    """The model of `material` from `store`, or trained (checkpointed, resumable; curves to `logger`) and stored;
    the store notes that `identity` (model_keys.config_identity) names it."""
    cfg = exp.cfg

    def fit(net, checkpoint_dir):
        return fit_classifier(net, exp.dataset("train", train_idx, train_transform=True), exp.dataset("val", val_idx),
                              recipe, cfg.trainer, cfg.seed, logger=logger, checkpoint_dir=checkpoint_dir, name=name,
                              from_scratch=True)

    save = cfg.get("save") or {}
    return get_or_train_resumable(store, material, exp.initial_model, fit, cfg.paths.get("checkpoint_dir"),
                                  keep=bool(save.get("training_checkpoints", False)), identity=identity)


def gold_material(material: dict, split: ForgetSplit) -> dict:
    return {**material, "role": "gold", "task": split.task, "forget": _digest(split.forget_idx)}


def train_gold(exp: Experiment, store: ModelStore, material: dict, split: ForgetSplit, recipe, *, logger=None,
               identity: dict | None = None):
    """The gold model of `split` (retrained from scratch without its forget samples), and its record;
    its training curves go to `logger` (a Lightning logger) under gold/. `identity`: as in _trained."""
    gold, info = _trained(exp, store, gold_material(material, split), recipe, "gold", split.retain_idx,
                          split.val_retain_idx, logger=for_role(logger, "gold"), identity=identity)
    log_model_source(logger, "gold", info)
    return gold, info


def train_models(exp: Experiment, store: ModelStore, material: dict, gold: bool = True, *, logger=None,
                 gold_identity: dict | None = None):
    """The original and the gold model (and their store records), trained or read from `store`;
    gold=False skips the gold model (returns None for it). `model.original_ckpt` brings a trained
    original instead. Training curves go to `logger` (a Lightning logger) under original/ and gold/,
    and whether each model was trained or read. `gold_identity`: the gold model's
    model_keys.config_identity, where exp.split is the one cfg.task draws."""
    cfg = exp.cfg
    recipe = build(cfg.training)
    checkpoint = original_checkpoint(cfg.model)
    if checkpoint:
        original, original_info = original_from_checkpoint(exp.build_model(), checkpoint)
    else:
        original, original_info = _trained(exp, store, {**material, "role": "original"}, recipe, "original",
                                           logger=for_role(logger, "original"),
                                           identity=config_identity(cfg, "original"))
    log_model_source(logger, "original", original_info)
    if not gold:
        return recipe, (original, original_info), None
    return recipe, (original, original_info), train_gold(exp, store, material, exp.split, recipe, logger=logger,
                                                         identity=gold_identity)


def forget_split(cfg: DictConfig, task, data: PreparedData, store: ModelStore, device: torch.device, *,
                 logger=None) -> ForgetSplit:
    """`task`'s forget split of `data`; a scored selection (task.selection, data/selection.py) first
    computes its difficulty scores from models (metrics/difficulty.py) and records how it chose."""
    selection = getattr(task, "selection", None)
    if selection is None or not selection.scored:
        return task.split(data)
    exp = Experiment(cfg, data, None)
    material = exp.material()
    log.info("task.selection: %s scores of the %d training samples…", selection.by, len(data.train))
    _, (original, _), _ = train_models(exp, store, material, gold=False, logger=logger)
    features = embeddings(original, exp.dataset("train"), device, cfg.eval_batch_size)
    if selection.by == "memorization":
        scores = sample_memorization(exp, store, material, selection, device, cfg.eval_batch_size)
    else:
        scores = centroid_distances(features)
    split = task.split(data, scores)
    record = {"by": selection.by, "level": selection.level, "seed": selection.seed,
              **({"models": selection.models} if selection.by == "memorization" else {}),
              "scores": difficulty_summary(scores, split.forget_idx),
              "entanglement_score": entanglement_score(features[split.forget_idx], features[split.retain_idx]),
              "forget_scores": [round(float(v), 6) for v in scores[split.forget_idx]]}
    return replace(split, selection=record)


def split_sets(exp: Experiment, split: ForgetSplit) -> dict[str, ImageDataset]:
    """The evaluated splits of a forget request (no augmentation); the validation sides serve searches."""
    return {
        "retain_train": exp.dataset("train", split.retain_idx),
        "forget_train": exp.dataset("train", split.forget_idx),
        "retain_test": exp.dataset("test", split.test_retain_idx),
        "forget_test": exp.dataset("test", split.test_forget_idx),
        "val_retain": exp.dataset("val", split.val_retain_idx),
        "val_forget": exp.dataset("val", np.setdiff1d(np.arange(len(exp.data.val)), split.val_retain_idx)),
    }


def predictor(cfg: DictConfig, eval_sets: dict, device: torch.device, recipe):
    """A model's logits and labels on the evaluated splits (one forward pass per split)."""
    return lambda model: model_outputs(model, eval_sets, device, cfg.eval_batch_size, recipe.num_workers,
                                       cfg.trainer)


def scorer(cfg: DictConfig, eval_sets: dict, device: torch.device, recipe):
    """The evaluation of a model on the evaluated splits (the same for every role and for evaluate-only)."""
    outputs_of = predictor(cfg, eval_sets, device, recipe)
    return lambda model: metrics_from_outputs(outputs_of(model), cfg.protocol.mia_C)


def build_context(exp: Experiment, split: ForgetSplit, original, original_info: dict, material: dict, recipe,
                  device: torch.device, train_idx=None, importance_material: dict | None = None) -> UnlearnContext:
    """Everything a method may be given for `split` (each method sees only what it declares:
    `for_method`); the []_D and []_Df orders follow `protocol`; `train_idx` (default: all) restricts D."""
    cfg, data = exp.cfg, exp.data
    orders = loader_orders(cfg.protocol.name, split, data.train.targets, data.train.fine_targets, cfg.seed)
    train_order = orders["train"]
    if train_idx is not None:  # sequential requests: []_D on the shrinking training set, same order
        train_order = train_order[np.isin(train_order, np.asarray(train_idx))]
    return UnlearnContext(
        original=original,
        forget_set=exp.dataset("train", orders["forget"]),
        retain_set=exp.dataset("train", split.retain_idx),
        train_set=exp.dataset("train", train_order),
        split=split,
        num_classes=data.num_classes,
        device=device,
        seed=cfg.seed,
        build_model=functools.partial(build, cfg.model.net),  # not exp's method: exp holds all the data
        importance_store=ImportanceStore(Path(cfg.paths.cache_dir) / "importance"),
        importance_material=importance_material or {
            "original": original_info["key"], "data": material["data"], "dataset": material["dataset"],
            "order": orders["name"]},
        retain_train_set=exp.dataset("train", split.retain_idx, train_transform=True),
        forget_train_set=exp.dataset("train", orders["forget"], train_transform=True),
        val_set=exp.dataset("val", split.val_retain_idx),
        recipe=recipe,
        retain_targets=data.train.targets.numpy()[split.retain_idx],
        batch_size=recipe.batch_size,
        num_workers=recipe.num_workers,
        trainer_cfg=cfg.trainer,
        task=split.task,
        forget_classes=tuple(split.forget_classes),
        forget_labels=forget_labels(split, data.train.targets),
        refine=functools.partial(_refined_context, exp, split, original, original_info, material, recipe, device),
        memorization=functools.partial(_memorization, exp, material, device),
    )


def _refined_context(exp: Experiment, split: ForgetSplit, original, original_info: dict, material: dict, recipe,
                     device: torch.device, forget_idx, retain_idx) -> UnlearnContext:
    """The context of a part of `split`'s request: `forget_idx` forgotten, `retain_idx` kept (indices
    into the training split); the same test sides, []_D on the whole training split (methods that
    store importances reuse the stored ones)."""
    part = replace(split, forget_idx=np.sort(np.asarray(forget_idx, dtype=int)),
                   retain_idx=np.sort(np.asarray(retain_idx, dtype=int)), selection=None)
    return build_context(exp, part, original, original_info, material, recipe, device)


def _memorization(exp: Experiment, material: dict, device: torch.device, models: int, seed: int) -> np.ndarray:
    """The memorization score of every training sample (metrics/difficulty.py; the models from the store,
    where task.selection.by=memorization with the same models and seed has put them already)."""
    store = ModelStore(Path(exp.cfg.paths.cache_dir) / "models")
    return sample_memorization(exp, store, material, Selection(by="memorization", models=models, seed=seed), device,
                               exp.cfg.eval_batch_size)


def unlearn(method: UnlearningMethod, model, ctx: UnlearnContext, gold, gold_info: dict):
    """The method's output; the retrain row is the gold model itself, given by the pipeline."""
    if isinstance(method, Retrain) and method.is_gold:
        ctx.reads.update({"retain_train_set", "val_set"})  # what the gold model was trained on
        return method.gold_row(gold, gold_info)
    return method.unlearn(copy.deepcopy(model), ctx)


def architecture(model_cfg: DictConfig) -> str:
    """The network actually built: the timm architecture name where there is one, else the factory."""
    return str(model_cfg.net.get("arch") or model_cfg.net._target_.rsplit(".", 1)[-1])


def evaluation_context(cfg: DictConfig, material: dict, split: ForgetSplit, device: torch.device) -> str:
    """A digest of everything a reference model's evaluation depends on besides the model itself."""
    indices = (split.retain_idx, split.forget_idx, split.test_retain_idx, split.test_forget_idx, split.val_retain_idx)
    return fingerprint(material, *(np.asarray(i) for i in indices), str(device), cfg.eval_batch_size,
                       OmegaConf.to_container(cfg.trainer, resolve=True))


def split_record(split: ForgetSplit) -> dict:
    """The sizes of a forget split's sides, and how a scored selection chose its forget set."""
    sizes = {"forget_train": len(split.forget_idx), "retain_train": len(split.retain_idx),
             "forget_test": len(split.test_forget_idx), "retain_test": len(split.test_retain_idx)}
    return {**sizes, "selection": split.selection} if split.selection is not None else sizes


def run_identity(cfg: DictConfig, split: ForgetSplit) -> dict:
    """What a results record is about: the keys the report groups runs by."""
    return {"dataset": cfg.dataset.name, "model": cfg.model.name, "architecture": architecture(cfg.model),
            "task": split.task, "forget": split.target, "seed": cfg.seed}


def population_section(cfg, exp, store, material, recipe, split, method, original, original_info, eval_sets, device,
                       population, use_challenge: bool, use_klom: bool) -> dict:
    """The challenge score and KLoM (metrics/populations.py): the method run `population.n` more times,
    each from a context of its own; for method=retrain, n more retrained models."""
    def unlearn_from(start, start_info, seed):
        fresh = build_method(cfg, split.task)
        context = replace(build_context(exp, split, start, start_info, material, recipe, device), seed=seed)
        torch.manual_seed(seed)
        return fresh.unlearn(copy.deepcopy(start), context.for_method(fresh))

    if isinstance(method, Retrain) and method.is_gold:
        unlearned = retrained_models(exp, store, material, split, population, offset=population.n)
    else:
        unlearned = unlearned_population(population, unlearn_from, original, original_info, cfg.seed, exp, store,
                                         material)
    retrained = retrained_models(exp, store, material, split, population)
    return population_lenses(population, use_challenge, use_klom, unlearned, retrained, eval_sets, device,
                             cfg.eval_batch_size)


def run_one(cfg: DictConfig, task, method: UnlearningMethod, tracker) -> dict:
    """One forget request: train (or read) the models, unlearn, evaluate, write and log the record."""
    population, use_challenge, use_klom = population_config(cfg.get("lenses"))  # checked before any training
    device = resolve_device(cfg.trainer.accelerator)
    data = load_data(cfg)
    cache = Path(cfg.paths.cache_dir)
    store = ModelStore(cache / "models")
    split = forget_split(cfg, task, data, store, device, logger=tracker.logger)
    log.info(split.describe())
    exp = Experiment(cfg, data, split)
    material = exp.material()
    recipe, (original, original_info), (gold, gold_info) = train_models(exp, store, material, logger=tracker.logger,
                                                                        gold_identity=config_identity(cfg, "gold"))

    eval_sets = split_sets(exp, split)
    full = build_context(exp, split, original, original_info, material, recipe, device)
    order = full.importance_material["order"]
    ctx = full.for_method(method)
    torch.manual_seed(cfg.seed)
    log.info("%s: unlearning…", method.name)
    start = time.perf_counter()
    unlearned = unlearn(method, original, ctx, gold, gold_info)
    measured_s = time.perf_counter() - start
    log.info("%s: done in %s.", method.name, duration(measured_s))
    models = {"unlearned": unlearned, "original": original, "gold": gold}
    outputs_of = predictor(cfg, eval_sets, device, recipe)
    remember = role_memo({"original": original_info.get("key"), "gold": gold_info.get("key")},
                         evaluation_context(cfg, material, split, device))
    outputs = {role: remember(role, "outputs", functools.partial(outputs_of, model)) for role, model in models.items()}
    metrics = {role: metrics_from_outputs(out, cfg.protocol.mia_C) for role, out in outputs.items()}
    columns = {role: paper_columns(m, split.task) for role, m in metrics.items()}
    warnings = unlearned_model_warnings(metrics["unlearned"], data.num_classes, unlearned)
    for warning in warnings:
        log.warning("%s: %s", method.name, warning)
    lens_s: dict[str, float] = {}
    lenses = compute_lenses(cfg.get("lenses"), exp, store, material, models, eval_sets,
                            metrics["original"]["forget_train_acc"], device, cfg.seed, cfg.eval_batch_size,
                            logits={role: {s: out[s][0] for s in SPLITS} for role, out in outputs.items()},
                            remember=remember, timings=lens_s)
    if population is not None:
        with timed(lens_s, "populations"):
            lenses["populations"] = population_section(cfg, exp, store, material, recipe, split, method, original,
                                                       original_info, eval_sets, device, population,
                                                       use_challenge, use_klom)
    record = {
        "method": method.name,
        **run_identity(cfg, split),
        "data_used": list(method.data_used),
        "data_read": ctx.data_read(),
        "protocol": {"name": cfg.protocol.name, "importance_order": order,
                     "importance_stored": order != "request"},
        "metrics": metrics,
        "paper_columns": columns,
        "lenses": lenses,
        "lens_columns": {role: lens_columns(lenses, split.task, role) for role in ("unlearned", "original", "gold")},
        "gap_to_gold": {k: metrics["unlearned"][k] - metrics["gold"][k] for k in metrics["gold"]},
        "distance_to_gold": distance_to_gold(columns["unlearned"], columns["gold"]),
        # what a hyperparameter search minimises: the same distance on the validation split
        "tuning_objective": distance_to_gold(*(tuning_columns(metrics[r], split.task) for r in ("unlearned", "gold"))),
        "timing": {
            "method_s": method.report.get("method_s", measured_s),
            "measured_s": measured_s,
            "importance_s": method.report.get("importance_s", 0.0),
            "original_train_s": original_info.get("train_s"),
            "gold_train_s": gold_info.get("train_s"),
            "lenses_s": lens_s,  # each lens's wall seconds, the models it trains included (populations: both)
        },
        "method_report": method.report,
        "warnings": warnings,
        "split": split_record(split),
        "models": {"original": original_info, "gold": gold_info},
        "config": OmegaConf.to_container(cfg, resolve=True),
        "versions": versions(),
    }
    with FinalWrite() as final:
        path = save_run(cfg, record, unlearned)
        final.written = str(path)
    tracker.log_results(record, path)
    print(f"\n{split.describe()} — {method.name} (accuracies and MIA in %)\n{format_table(record)}\n")
    log.info("Results written to %s", path)
    return record
