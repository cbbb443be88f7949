"""A scale's stand-in models for single runs: at `scale=cpu` (or `smoke`), `model=resnet18` or
`model=vit` runs the model that scale puts in their place (`scale.models`, e.g. resnet_small on
CIFAR-10), with that model's recipe, exactly as the experiment grids do."""

from __future__ import annotations

import logging

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def stand_in_for(cfg: DictConfig) -> str | None:
    """The model this run's scale puts in place of the configured one, or None to keep it."""
    models = OmegaConf.select(cfg, "scale.models")
    name = OmegaConf.select(cfg, "model.name")
    if models is None or name not in models:
        return None
    stand_in = str(models[name])
    return None if stand_in == name else stand_in


def overrides_with_model(overrides: list[str], model: str) -> list[str]:
    """The command line's overrides with the model group choice replaced by `model`."""
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("~+") != "model"]
    return [*kept, f"model={model}"]


def with_stand_in(cfg: DictConfig) -> DictConfig:
    """`cfg` itself, or (when its scale replaces its model) the config composed again with the
    stand-in as the model choice, so that the stand-in's recipe (conf/dataset_model/) applies too."""
    stand_in = stand_in_for(cfg)
    if stand_in is None or not HydraConfig.initialized():
        return cfg
    hydra = HydraConfig.get()
    log.info("scale=%s: model=%s runs as its stand-in model=%s on %s (scale.models; set "
             "scale.models.%s=%s to train it itself).", cfg.scale.name, cfg.model.name, stand_in,
             cfg.dataset.name, cfg.model.name, cfg.model.name)
    return compose(hydra.job.config_name, overrides=overrides_with_model(list(hydra.overrides.task), stand_in))
