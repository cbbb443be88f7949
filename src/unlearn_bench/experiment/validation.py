"""Every check of the user's configuration, in one place, run before any work starts.

`validate_config` checks what the config alone decides; `validate_data` what needs the loaded
dataset (its class count and split sizes). Each refusal is one sentence naming the key to change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf

from unlearn_bench.training.trainer import check_trainer_settings
from unlearn_bench.utils.errors import UnlearnBenchError
from unlearn_bench.utils.precision import autocast_dtype

# method / training settings that must be whole numbers ≥ 1, or > 0
_COUNT = re.compile(r"(^|_)(batch_size|repeats|samples_per_class)$")
_WHOLE = re.compile(r"(^|_)(epochs|steps|warmup_epochs|num_workers)$")
_POSITIVE = re.compile(r"^(lr|.*_lr|alpha|lambda_|temperature|gamma)$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _refuse(key: str, value: Any, rule: str, example: str | None) -> UnlearnBenchError:
    fix = f"e.g. set {key}={example}" if example is not None else f"set {key} to one, e.g. its default in conf/"
    return UnlearnBenchError(f"{key}={value} is invalid: it must be {rule} ({fix}).")


def _integer(key: str, value: Any, low: int, example: str) -> None:
    if not _is_int(value) or value < low:
        raise _refuse(key, value, f"an integer ≥ {low}", example)


def _subset(key: str, value: Any) -> None:
    """null (all), a count ≥ 1, or a fraction in (0, 1]."""
    ok = value is None or (_is_int(value) and value >= 1) or (isinstance(value, float) and 0 < value <= 1)
    if not ok:
        raise _refuse(key, value, "null (all samples), a count ≥ 1 or a fraction in (0, 1]", "null")


def _leaves(node: Any, prefix: str) -> Iterator[tuple[str, str, Any]]:
    """(full key, last key, value) of every leaf."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, prefix.rsplit(".", 1)[-1], node


def _settings(group: str, node: Any) -> None:
    """Numbers of a method or training config: finite; counts whole; rates and strengths positive."""
    for key, name, value in _leaves(node, group):
        if _is_number(value) and not math.isfinite(value):
            raise _refuse(key, value, "a finite number", None)
        if _COUNT.search(name) and value is not None:
            _integer(key, value, 1, "64")
        elif _WHOLE.search(name) and value is not None:
            _integer(key, value, 0, "1")
        elif _POSITIVE.match(name) and value is not None and not (_is_number(value) and value > 0):
            raise _refuse(key, value, "a number > 0", "1.0")


def _normalisation(dataset: DictConfig) -> None:
    """dataset.mean / dataset.std: one number per channel; every std > 0."""
    channels = dataset.get("channels")
    for key in ("mean", "std"):
        values = OmegaConf.to_container(dataset[key]) if OmegaConf.is_config(dataset[key]) else dataset[key]
        example = "[" + ",".join(["0.5"] * (channels or 1)) + "]"
        if not isinstance(values, list) or not all(_is_number(v) and math.isfinite(v) for v in values):
            raise _refuse(f"dataset.{key}", values, "a list of numbers, one per channel", example)
        if channels is not None and len(values) != channels:
            raise _refuse(f"dataset.{key}", values, f"one number per channel ({channels} for {dataset.name})",
                          example)
        if key == "std" and not all(v > 0 for v in values):
            raise _refuse("dataset.std", values, "a list of numbers > 0 (the divisor of each channel)", example)


def _trainer(trainer: DictConfig) -> None:
    """trainer.devices: a count ≥ 1, -1 (all) or auto (or a list of device indices); a known precision."""
    devices = trainer.get("devices")
    ok = (devices == "auto" or devices == -1 or (_is_int(devices) and devices >= 1)
          or (OmegaConf.is_list(devices) and len(devices) > 0 and all(_is_int(d) and d >= 0 for d in devices))
          or (isinstance(devices, str) and re.fullmatch(r"\d+(,\d+)*,?", devices) is not None))
    if not ok:
        raise _refuse("trainer.devices", devices, "a count ≥ 1, -1 (all), auto, or a list of device indices", "1")
    for key in ("precision", "importance_precision"):
        value = trainer.get(key)
        try:
            autocast_dtype(value)
        except ValueError:
            raise UnlearnBenchError(f"trainer.{key}={value!r} is not supported; use one of 32-true, bf16-mixed, "
                                    "16-mixed.") from None


def validate_config(cfg: DictConfig) -> None:
    """Refuse, with one sentence naming the key, anything the config alone shows to be wrong."""
    missing = sorted(k for k in OmegaConf.missing_keys(cfg) if not k.startswith("hydra"))
    if missing:
        raise UnlearnBenchError(f"{missing[0]} is not set (set {missing[0]}=... on the command line or in "
                                "your config).")
    _integer("seed", cfg.seed, 0, "0")
    check_trainer_settings(cfg.trainer)
    _integer("eval_batch_size", cfg.eval_batch_size, 1, "256")
    dataset = cfg.dataset
    if dataset.num_classes is not None:  # null: counted from the data (dataset=image_folder)
        _integer("dataset.num_classes", dataset.num_classes, 2, "10")
    _subset("dataset.train_subset", dataset.get("train_subset"))
    _subset("dataset.test_subset", dataset.get("test_subset"))
    val = dataset.get("val_fraction")
    if not (_is_number(val) and 0 < val < 1):
        raise _refuse("dataset.val_fraction", val, "a fraction in (0, 1)", "0.1")
    if cfg.task.name == "random":
        _integer("task.n_forget", cfg.task.get("n_forget"), 1, "100")
    _normalisation(dataset)
    if cfg.task.get("requests") is not None:
        _integer("task.requests", cfg.task.requests, 1, "1")
    _trainer(cfg.trainer)
    method = OmegaConf.to_container(cfg.method, resolve=True)
    _settings("method", {k: v for k, v in method.items() if k not in ("_target_", "provenance", "presets")})
    training = OmegaConf.to_container(cfg.training, resolve=True)
    _integer("training.epochs", training.get("epochs"), 1, "15")
    _settings("training", training)
    milestones = training.get("milestones") or []
    if not isinstance(milestones, list) or not all(_is_int(m) and m >= 1 for m in milestones):
        raise _refuse("training.milestones", milestones, "a list of epochs (integers ≥ 1)", "[8,12]")
    fraction = method.get("retain_fraction")
    if fraction is not None and not (_is_number(fraction) and 0 < fraction <= 1):
        raise _refuse("method.retain_fraction", fraction, "a fraction in (0, 1]", "0.3")


def _subset_size(size: int | float | None, n: int) -> int:
    if size is None:
        return n
    return int(round(size * n)) if isinstance(size, float) and size < 1 else int(size)


def validate_data(cfg: DictConfig, bundle) -> None:
    """Refuse settings that do not fit the loaded dataset (class count, subset sizes)."""
    if bundle.num_classes < 2:
        raise UnlearnBenchError(
            f"{bundle.name} has {bundle.num_classes} class ({', '.join(bundle.classes)}): a classifier needs at "
            "least 2 (one folder per class under train/ and test/)."
        )
    if bundle.num_classes != cfg.dataset.num_classes:
        raise UnlearnBenchError(
            f"dataset.num_classes={cfg.dataset.num_classes} but {bundle.name} has {bundle.num_classes} classes "
            f"(set dataset.num_classes={bundle.num_classes})."
        )
    for split in ("train", "test"):
        key, n = f"dataset.{split}_subset", len(getattr(bundle, split).targets)
        size = cfg.dataset.get(f"{split}_subset")
        if not 0 < _subset_size(size, n) <= n:
            raise UnlearnBenchError(
                f"{key}={size} asks for more samples than the {n} of {bundle.name}'s {split} split "
                f"(set {key}=null for all, or at most {n})."
            )
