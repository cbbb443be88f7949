"""The on-disk store of a model's full-training-set importances."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch

from unlearn_bench.importance.estimators import Importances
from unlearn_bench.training.store import content_key, load_verified, save_verified

log = logging.getLogger(__name__)

class ImportanceStore:
    """Importances of a model's full training set, stored once under `root/<key>.pt`.

    The key is a hash of `material` (the caller names the model's content hash, the dataset and
    subset, the estimator and its batch size). Files are written atomically with a sha256 sidecar;
    a file that fails its check or does not hold importances is recomputed.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def load(self, key: str) -> Importances | None:
        payload = load_verified(self.path(key))
        if payload is None:
            return None
        importances = payload.get("importances") if isinstance(payload, dict) else None
        if not isinstance(importances, dict) or not all(isinstance(t, torch.Tensor) for t in importances.values()):
            log.warning("Stored importances %s are malformed; recomputing them.", self.path(key))
            return None
        return importances

    def get_or_compute(self, material: dict, compute: Callable[[], Importances],
                       use_cache: bool = True) -> tuple[Importances, dict]:
        """Read the stored importances for `material`; compute and store them when absent or corrupt."""
        key = content_key(material)
        start = time.perf_counter()
        cached = self.load(key) if use_cache else None
        if cached is not None:
            return cached, {"key": key, "cache_hit": True, "seconds": time.perf_counter() - start}
        importances = {n: t.detach().cpu() for n, t in compute().items()}
        seconds = time.perf_counter() - start
        save_verified(self.path(key), {"importances": importances, "material": material})
        return importances, {"key": key, "cache_hit": False, "seconds": seconds}
