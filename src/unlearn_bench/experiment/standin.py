"""A scale's stand-in models: at `scale=cpu` (or `smoke`), `model=resnet18` or `model=vit` runs the model
that scale puts in their place (`scale.models`, e.g. resnet_small on CIFAR-10), with that model's recipe,
exactly as the experiment grids do. What is shown and saved is what runs: `--cfg` prints the stand-in's
config (`cli/entry.py` swaps the choice before Hydra starts), and a job's `.hydra/config.yaml` and
`overrides.yaml` are rewritten to the config the job runs (`save_config_that_runs`)."""

from __future__ import annotations

import logging
from pathlib import Path

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
    overrides = overrides_with_model(list(hydra.overrides.task), stand_in)
    _save_hydra_file(OmegaConf.to_yaml(OmegaConf.create(overrides)), "overrides.yaml")
    return compose(hydra.job.config_name, overrides=overrides)


def _hydra_folder() -> Path | None:
    """The job's .hydra/ folder, where Hydra saved its config (None outside a job, or with hydra.output_subdir=null)."""
    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    if hydra.output_subdir is None:
        return None
    folder = Path(hydra.runtime.output_dir) / str(hydra.output_subdir)
    return folder if folder.is_dir() else None


def _save_hydra_file(text: str, name: str) -> None:
    """Write the job's .hydra/`name` unless it holds `text` already (or there is no such folder)."""
    folder = _hydra_folder()
    if folder is not None and (not (folder / name).is_file() or (folder / name).read_text() != text):
        (folder / name).write_text(text)


def save_config_that_runs(cfg: DictConfig) -> DictConfig:
    """Rewrite the job's .hydra/config.yaml to `cfg` when it is not what Hydra composed (a stand-in model,
    the CPU precision chosen at run time), so that it says what results.json's config says; `cfg` back."""
    _save_hydra_file(OmegaConf.to_yaml(cfg), "config.yaml")
    return cfg


def stand_in_argv(argv: list[str], config_name: str = "config") -> list[str]:
    """A `--cfg` command line of a single run with the model choice replaced by the stand-in its scale runs,
    so that Hydra prints the config that runs; any other command line unchanged (a run swaps the model
    itself, with_stand_in, and logs that it did)."""
    if not any(a.split("=", 1)[0] in ("-c", "--cfg") for a in argv) or any(a in ("-m", "--multirun") for a in argv):
        return argv
    overrides = [a for a in argv if "=" in a and not a.startswith("-")]
    if not any(o.split("=", 1)[0].lstrip("~+") in ("model", "scale") for o in overrides):
        return argv  # the defaults (model=cnn at scale=paper) have no stand-in
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from unlearn_bench.conf import CONF_DIR

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            stand_in = stand_in_for(compose(config_name, overrides=overrides))
    except Exception:  # noqa: BLE001 - Hydra reports a bad command line itself, in its own words
        return argv
    finally:
        GlobalHydra.instance().clear()
    if stand_in is None:
        return argv
    return [a for a in argv if a not in overrides] + overrides_with_model(overrides, stand_in)
