"""Mixed precision for the methods' own loops, from `trainer.precision` (Lightning's spelling)."""

from __future__ import annotations

import contextlib

import torch

AUTOCAST_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}
FULL_PRECISIONS = {"32-true", "32", 32, "64-true", "64", 64, None}


def autocast_dtype(precision) -> torch.dtype | None:
    """The autocast dtype of a Lightning precision setting, or None for full precision."""
    if precision in FULL_PRECISIONS:
        return None
    if str(precision) in AUTOCAST_DTYPES:
        return AUTOCAST_DTYPES[str(precision)]
    raise ValueError(
        f"trainer.precision={precision!r} is not supported; use one of 32-true, bf16-mixed, 16-mixed."
    )


def trainer_setting(trainer_cfg, key: str, default=None):
    """One `trainer.*` setting from a DictConfig, a dict or an object (default when absent or None)."""
    if trainer_cfg is None:
        return default
    value = trainer_cfg.get(key) if hasattr(trainer_cfg, "get") else getattr(trainer_cfg, key, None)
    return default if value is None else value


def method_autocast(trainer_cfg, device: torch.device):
    """A context manager running forward passes in `trainer.precision` on `device` (no-op in fp32)."""
    dtype = autocast_dtype(trainer_setting(trainer_cfg, "precision"))
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def importance_trainer_cfg(trainer_cfg) -> dict:
    """`trainer_cfg` for an importance pass: its precision is `trainer.importance_precision`
    (32-true unless set), whatever precision training uses."""
    if trainer_cfg is None:
        return {"precision": "32-true"}
    if hasattr(trainer_cfg, "items") and not isinstance(trainer_cfg, dict):
        from omegaconf import OmegaConf  # a DictConfig

        settings = OmegaConf.to_container(trainer_cfg, resolve=True)
    else:
        settings = dict(trainer_cfg) if isinstance(trainer_cfg, dict) else vars(trainer_cfg).copy()
    settings["precision"] = trainer_setting(trainer_cfg, "importance_precision", "32-true")
    return settings
