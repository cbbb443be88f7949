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


def method_autocast(trainer_cfg, device: torch.device):
    """A context manager running forward passes in `trainer.precision` on `device` (no-op in fp32)."""
    precision = trainer_cfg.get("precision") if trainer_cfg is not None and hasattr(trainer_cfg, "get") \
        else getattr(trainer_cfg, "precision", None)
    dtype = autocast_dtype(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)
