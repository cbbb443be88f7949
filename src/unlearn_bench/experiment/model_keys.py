"""What determines an original or gold model, and so its key in the model store (training/store.py).

`model_material` is the material a run hashes into the store key; it needs the data's content hash,
so only a run that loaded the data can compute it. `config_identity` is what the configuration
alone says about the same model (the loader in place of the content hash, the task in place of the
forget split's indices): a grid can tell, before any data is loaded, which of its models the store
holds already (ModelStore.key_for_config).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from unlearn_bench.training.trainer import weight_settings
from unlearn_bench.utils.cpu import training_threads

# the dataset settings that change what a model sees (paths and download flags do not)
DATA_KEYS = ("name", "train_subset", "test_subset", "val_fraction", "mean", "std", "augmentations", "load_size")
# loader arguments that say where files come from or are cached, not what they hold
LOADER_PLACES = ("download", "cache_dir")
ROLES = ("original", "gold")


def model_material(cfg: DictConfig, data: str | dict) -> dict:
    """Everything that determines the original model besides its role, `data` being the content hash
    of the dataset (DatasetBundle.fingerprint); the gold model adds its forget split (experiment/setup.gold_material)."""
    dataset = OmegaConf.to_container(cfg.dataset, resolve=True)
    material = {
        "data": data,
        "dataset": {k: dataset.get(k) for k in DATA_KEYS},
        "model": OmegaConf.to_container(cfg.model.net, resolve=True),
        "input_size": cfg.model.input_size,
        "recipe": OmegaConf.to_container(cfg.training, resolve=True),
        "precision": cfg.trainer.precision,
        "seed": cfg.seed,
    }
    if dataset.get("superclasses") is not None:  # left out when unset, so the keys of earlier models stay
        material["dataset"]["superclasses"] = dataset["superclasses"]
    threads = training_threads(cfg.trainer)
    if threads is not None:
        material["cpu_threads"] = threads
    tuned = weight_settings(cfg.trainer)  # e.g. gradient clipping: another model
    return {**material, "trainer": tuned} if tuned else material


def config_identity(cfg: DictConfig, role: str) -> dict | None:
    """The original's or the gold model's material as `cfg` alone determines it: the same files read
    by the same loader hold the same data, and the same task draws the same forget split from them.
    None where the config cannot say: the class count comes from the data (dataset=image_folder, or
    dataset.superclasses with num_classes left at the dataset's own), the
    original comes from model.original_ckpt, or the gold models of sequential requests."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    if cfg.dataset.get("num_classes") is None:
        return None
    superclasses = cfg.dataset.get("superclasses")
    if superclasses is not None and cfg.dataset.num_classes != len(superclasses):
        return None  # the run sets num_classes to the superclass count once the data is loaded
    if role == "original" and cfg.model.get("original_ckpt"):
        return None
    if role == "gold" and int(cfg.task.get("requests", 1)) > 1:
        return None
    loader = OmegaConf.to_container(cfg.dataset.loader, resolve=True)
    identity = {**model_material(cfg, {k: v for k, v in loader.items() if k not in LOADER_PLACES}), "role": role}
    if role == "gold":
        task = OmegaConf.to_container(cfg.task, resolve=True)
        identity["forget"] = {k: v for k, v in task.items() if k != "requests"}
        if (task.get("selection") or {}).get("by", "uniform") == "uniform":  # the keys of earlier gold models stay
            identity["forget"].pop("selection", None)
    return identity
