"""What a grid will train, told before it starts: the distinct original and gold models of its jobs
and whether the model store holds each already. From each job's composed config (as the launcher
composes it, with the scale's stand-in model and the CPU precision applied as the job applies them);
no data is loaded and no model is built."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from unlearn_bench.cache.files import content_key
from unlearn_bench.experiment.model_keys import ROLES, config_identity
from unlearn_bench.experiment.standin import overrides_with_model, stand_in_for
from unlearn_bench.sweep.size import job_overrides
from unlearn_bench.training.store import ModelStore
from unlearn_bench.utils.cpu import with_cpu_precision

# a method's config lies under method.* (no method preset sets anything else), so jobs that differ
# in their method alone share their models: one of them is composed
METHOD_KEYS = ("method",)
# more distinct jobs than this are counted, not composed (each composition takes a fraction of a second)
MAX_COMPOSED = 100

IN_STORE, TO_TRAIN, UNKNOWN, GIVEN = "in store", "to train", "unknown", "given (model.original_ckpt)"


@dataclass(frozen=True)
class PlannedModel:
    role: str  # original or gold
    model: str  # model.name: the stand-in where the scale puts one in
    dataset: str
    seed: int
    forget: str  # what a gold model is trained without ("3", "100 random samples"); "" for an original
    status: str  # IN_STORE, TO_TRAIN, UNKNOWN or GIVEN
    identity: dict | None  # model_keys.config_identity; None where the config cannot say
    store: Path  # the model store the job reads and writes


@dataclass(frozen=True)
class GridModels:
    models: list[PlannedModel] | None  # None: not listed, `why` says why
    why: str = ""


@contextmanager
def as_job(cfg: DictConfig) -> Iterator[None]:
    """HydraConfig is `cfg`'s while inside, as in the job (${hydra:...}, ${job_threads:} resolve as there)."""
    hydra = HydraConfig.instance()
    before = hydra.cfg
    hydra.set_config(cfg)
    try:
        yield
    finally:
        hydra.cfg = before


def grid_models(config: DictConfig, compose: Callable[[list[str]], DictConfig]) -> GridModels:
    """The models of the grid `config` describes (the sweep's parent config), composing each job's
    config with `compose(overrides)` (Hydra's ConfigLoader.load_sweep_config)."""
    jobs = job_overrides(config, leave_out=METHOD_KEYS)
    if jobs is None:
        return GridModels(None, "this sweep's jobs cannot be listed before it runs")
    if len(jobs) > MAX_COMPOSED:
        return GridModels(None, f"{len(jobs)} distinct model settings, more than {MAX_COMPOSED} to look up")
    found: dict[object, PlannedModel] = {}
    for overrides in jobs:
        for model in job_models(compose, overrides):
            key = (model.role, model.model, model.dataset, model.seed, model.forget)
            found.setdefault(key if model.identity is None else content_key(model.identity), model)
    return GridModels(sorted(found.values(), key=lambda m: ROLES.index(m.role)))  # originals first


def job_models(compose: Callable[[list[str]], DictConfig], overrides: list[str]) -> list[PlannedModel]:
    """The original and gold model of the job with `overrides`."""
    cfg = compose(overrides)
    with as_job(cfg):
        stand_in = stand_in_for(cfg)
    if stand_in is not None:
        cfg = compose(overrides_with_model(overrides, stand_in))
    with as_job(cfg):
        cfg = with_cpu_precision(cfg)
        store = ModelStore(Path(cfg.paths.cache_dir) / "models")
        return [_planned(cfg, role, store) for role in ROLES]


def _planned(cfg: DictConfig, role: str, store: ModelStore) -> PlannedModel:
    identity = config_identity(cfg, role)
    if identity is not None:
        status = IN_STORE if store.key_for_config(identity) else TO_TRAIN
    elif role == "original" and cfg.model.get("original_ckpt"):
        status = GIVEN
    else:
        status = UNKNOWN
    return PlannedModel(role, str(cfg.model.name), str(cfg.dataset.name), int(cfg.seed),
                        _forget(cfg.task) if role == "gold" else "", status, identity, store.root)


def _forget(task: DictConfig) -> str:
    forget = f"{task.n_forget} random samples" if task.get("n_forget") is not None else str(task.get("forget"))
    requests = int(task.get("requests", 1))
    return forget + (f" ({requests} sequential requests)" if requests > 1 else "")
