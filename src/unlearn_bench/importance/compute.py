"""The entry point: pick a runner (plain loop or Lightning predict) and compute importances."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import torch
from torch import nn
from torch.utils.data import DataLoader

from unlearn_bench.importance.estimators import Importances, get_estimator
from unlearn_bench.importance.lightning_pass import lightning_pass
from unlearn_bench.importance.loop import loop_pass
from unlearn_bench.training.callbacks import duration
from unlearn_bench.utils.precision import trainer_setting

log = logging.getLogger(__name__)

BACKENDS = ("auto", "loop", "lightning")


def _fast_path_applies(trainer_cfg: Mapping | None) -> bool:
    """One device, no strategy, full precision: the plain loop does the same work with less overhead."""
    if trainer_cfg is None:
        return True
    return (str(trainer_setting(trainer_cfg, "devices", 1)) == "1"
            and str(trainer_setting(trainer_cfg, "strategy", "auto")) == "auto"
            and str(trainer_setting(trainer_cfg, "precision", "32-true")) in ("32-true", "32"))


def compute_importance(estimator: str, model: nn.Module, loader: DataLoader, device: torch.device,
                       desc: str = "importance", *, trainer_cfg: Mapping | None = None,
                       backend: str = "auto") -> Importances:
    """Σ batch sums / Σ counts over the loader, model in eval mode.

    `trainer_cfg` (conf/trainer: accelerator, devices, strategy, precision, enable_progress_bar)
    selects Lightning's accelerator; without it, one local `device` with a progress bar.
    `backend`: "loop" (one `device`), "lightning" (trainer_cfg), or "auto" (the loop when
    `trainer_cfg` asks for one device, no strategy and 32-bit precision). Both give identical results.
    """
    fn = get_estimator(estimator)
    if backend not in BACKENDS:
        raise ValueError(f"Unknown importance backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    progress = bool(trainer_setting(trainer_cfg, "enable_progress_bar", True))
    log.info("%s: %s importance pass over %d batches…", desc, estimator, len(loader))
    start = time.perf_counter()
    if backend == "loop" or (backend == "auto" and _fast_path_applies(trainer_cfg)):
        result = loop_pass(fn, model, loader, device, desc, progress)
    else:
        result = lightning_pass(estimator, model, loader, trainer_cfg, desc, progress)
    log.info("%s: importance pass done in %s.", desc, duration(time.perf_counter() - start))
    return result

