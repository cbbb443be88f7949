"""What every kind of run sets up (an Experiment): the data, the forget split, the model store, the device,
the training recipe, the original and gold models and a method's context; and the method from its config."""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf, open_dict

from unlearn_bench.data.base import ImageDataset
from unlearn_bench.data.forget import ForgetSplit
from unlearn_bench.data.prepare import PreparedData, prepare
from unlearn_bench.data.selection import Selection
from unlearn_bench.data.superclasses import with_superclasses
from unlearn_bench.data.transforms import TransformSpec
from unlearn_bench.experiment.model_keys import config_identity, model_material
from unlearn_bench.experiment.protocol import loader_orders
from unlearn_bench.experiment.validation import validate_data
from unlearn_bench.importance import ImportanceStore
from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.provenance import without_provenance
from unlearn_bench.metrics.difficulty import (
    centroid_distances,
    embeddings,
    entanglement_score,
    sample_memorization,
)
from unlearn_bench.metrics.difficulty import summary as difficulty_summary
from unlearn_bench.models.checkpoint import original_checkpoint, original_from_checkpoint
from unlearn_bench.tracking import for_role, log_model_source
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


def indices_digest(array) -> str:
    return hashlib.sha256(torch.as_tensor(array).numpy().tobytes()).hexdigest()[:16]


def gold_material(material: dict, split: ForgetSplit) -> dict:
    return {**material, "role": "gold", "task": split.task, "forget": indices_digest(split.forget_idx)}


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


class Experiment:
    """One configuration's data and forget split (`split`: the request being scored; None before one is
    drawn), with its model store, device, training recipe and tracker logger: it trains or reads the
    original and gold models and builds a method's context."""

    def __init__(self, cfg: DictConfig, data: PreparedData, split: ForgetSplit | None, *,
                 store: ModelStore | None = None, device: torch.device | None = None, logger=None):
        self.cfg, self.data, self.split, self.logger = cfg, data, split, logger
        self.spec = TransformSpec(tuple(cfg.dataset.mean), tuple(cfg.dataset.std), cfg.model.input_size,
                                  tuple(build(cfg.dataset.augmentations)))
        self.load_size = cfg.dataset.get("load_size")
        self._store = store
        self.device = device if device is not None else resolve_device(cfg.trainer.accelerator)
        self._material: dict | None = None

    def with_split(self, split: ForgetSplit) -> Experiment:
        """The same experiment (data, store, device, logger) about another forget request."""
        other = Experiment(self.cfg, self.data, split, store=self.store, device=self.device, logger=self.logger)
        other._material = self._material
        return other

    @property
    def store(self) -> ModelStore:
        if self._store is None:
            self._store = ModelStore(Path(self.cfg.paths.cache_dir) / "models")
        return self._store

    @functools.cached_property
    def recipe(self):
        return build(self.cfg.training)

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
        if self._material is None:
            self._material = model_material(self.cfg, self.data.bundle.fingerprint())
        return dict(self._material)

    def _trained(self, material: dict, name: str, train_idx=None, val_idx=None, logger=None,
                 identity: dict | None = None):
        """The model of `material` from the store, or trained (checkpointed, resumable; curves to `logger`) and
        stored; the store notes that `identity` (model_keys.config_identity) names it."""
        cfg = self.cfg

        def fit(net, checkpoint_dir):
            return fit_classifier(net, self.dataset("train", train_idx, train_transform=True),
                                  self.dataset("val", val_idx), self.recipe, cfg.trainer, cfg.seed, logger=logger,
                                  checkpoint_dir=checkpoint_dir, name=name, from_scratch=True)

        save = cfg.get("save") or {}
        return get_or_train_resumable(self.store, material, self.initial_model, fit, cfg.paths.get("checkpoint_dir"),
                                      keep=bool(save.get("training_checkpoints", False)), identity=identity)

    def original(self) -> tuple[torch.nn.Module, dict]:
        """The original model and its store record: `model.original_ckpt`'s, or trained or read from the store
        (curves under original/ of the logger)."""
        checkpoint = original_checkpoint(self.cfg.model)
        if checkpoint:
            model, info = original_from_checkpoint(self.build_model(), checkpoint)
        else:
            model, info = self._trained({**self.material(), "role": "original"}, "original",
                                        logger=for_role(self.logger, "original"),
                                        identity=config_identity(self.cfg, "original"))
        log_model_source(self.logger, "original", info)
        return model, info

    def gold(self, split: ForgetSplit | None = None) -> tuple[torch.nn.Module, dict]:
        """The gold model of `split` (default: this experiment's), retrained from scratch without its forget
        samples, and its store record; the config names it (model_keys.config_identity) only when it is
        this experiment's (the split cfg.task draws)."""
        identity = config_identity(self.cfg, "gold") if split is None else None
        split = split if split is not None else self.split
        model, info = self._trained(gold_material(self.material(), split), "gold", split.retain_idx,
                                    split.val_retain_idx, logger=for_role(self.logger, "gold"), identity=identity)
        log_model_source(self.logger, "gold", info)
        return model, info

    def context(self, split: ForgetSplit, original, original_info: dict, train_idx=None,
                importance_material: dict | None = None) -> UnlearnContext:
        """Everything a method may be given for `split` (each method sees only what it declares:
        `for_method`); the []_D and []_Df orders follow `protocol`; `train_idx` (default: all) restricts D."""
        cfg, data, recipe = self.cfg, self.data, self.recipe
        orders = loader_orders(cfg.protocol.name, split, data.train.targets, data.train.fine_targets, cfg.seed)
        train_order = orders["train"]
        if train_idx is not None:  # sequential requests: []_D on the shrinking training set, same order
            train_order = train_order[np.isin(train_order, np.asarray(train_idx))]
        return UnlearnContext(
            original=original,
            forget_set=self.dataset("train", orders["forget"]),
            retain_set=self.dataset("train", split.retain_idx),
            train_set=self.dataset("train", train_order),
            split=split,
            num_classes=data.num_classes,
            device=self.device,
            seed=cfg.seed,
            build_model=functools.partial(build, cfg.model.net),  # not self's method: self holds all the data
            importance_store=ImportanceStore(Path(cfg.paths.cache_dir) / "importance"),
            importance_material=importance_material or {
                "original": original_info["key"], "data": self.material()["data"],
                "dataset": self.material()["dataset"], "order": orders["name"]},
            retain_train_set=self.dataset("train", split.retain_idx, train_transform=True),
            forget_train_set=self.dataset("train", orders["forget"], train_transform=True),
            val_set=self.dataset("val", split.val_retain_idx),
            recipe=recipe,
            retain_targets=data.train.targets.numpy()[split.retain_idx],
            batch_size=recipe.batch_size,
            num_workers=recipe.num_workers,
            trainer_cfg=cfg.trainer,
            task=split.task,
            forget_classes=tuple(split.forget_classes),
            forget_labels=forget_labels(split, data.train.targets),
            refine=functools.partial(self._refined_context, split, original, original_info),
            memorization=self._memorization,
        )

    def _refined_context(self, split: ForgetSplit, original, original_info: dict, forget_idx,
                         retain_idx) -> UnlearnContext:
        """The context of a part of `split`'s request: `forget_idx` forgotten, `retain_idx` kept (indices
        into the training split); the same test sides, []_D on the whole training split (methods that
        store importances reuse the stored ones)."""
        part = replace(split, forget_idx=np.sort(np.asarray(forget_idx, dtype=int)),
                       retain_idx=np.sort(np.asarray(retain_idx, dtype=int)), selection=None)
        return self.context(part, original, original_info)

    def _memorization(self, models: int, seed: int) -> np.ndarray:
        """The memorization score of every training sample (metrics/difficulty.py; the models from the store,
        where task.selection.by=memorization with the same models and seed has put them already)."""
        return sample_memorization(self, self.store, self.material(), Selection(by="memorization", models=models,
                                                                                seed=seed),
                                   self.device, self.cfg.eval_batch_size)


def forget_split(exp: Experiment, task) -> ForgetSplit:
    """`task`'s forget split of the experiment's data; a scored selection (task.selection, data/selection.py)
    first computes its difficulty scores from models (metrics/difficulty.py) and records how it chose."""
    selection = getattr(task, "selection", None)
    if selection is None or not selection.scored:
        return task.split(exp.data)
    cfg, data = exp.cfg, exp.data
    log.info("task.selection: %s scores of the %d training samples…", selection.by, len(data.train))
    original, _ = exp.original()
    features = embeddings(original, exp.dataset("train"), exp.device, cfg.eval_batch_size)
    if selection.by == "memorization":
        scores = sample_memorization(exp, exp.store, exp.material(), selection, exp.device, cfg.eval_batch_size)
    else:
        scores = centroid_distances(features)
    split = task.split(data, scores)
    record = {"by": selection.by, "level": selection.level, "seed": selection.seed,
              **({"models": selection.models} if selection.by == "memorization" else {}),
              "scores": difficulty_summary(scores, split.forget_idx),
              "entanglement_score": entanglement_score(features[split.forget_idx], features[split.retain_idx]),
              "forget_scores": [round(float(v), 6) for v in scores[split.forget_idx]]}
    return replace(split, selection=record)


def open_experiment(cfg: DictConfig, task, *, logger=None) -> Experiment:
    """The experiment of `cfg` about `task`'s forget request: data loaded, store and device ready, the split
    drawn (a scored selection trains or reads its models first)."""
    unsplit = Experiment(cfg, load_data(cfg), None, logger=logger)
    return unsplit.with_split(forget_split(unsplit, task))
