"""The on-disk store of a model's full-training-set importances."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from unlearn_bench.cache.files import content_key
from unlearn_bench.cache.tensor_file import Layout
from unlearn_bench.cache.tensor_store import TensorStore
from unlearn_bench.importance.estimators import Importances, trainable


def importance_layout(like: nn.Module | Mapping[str, torch.Tensor]) -> Layout:
    """Importances have exactly their parameter's shape, in float32 (float64 if any parameter is)."""
    params = trainable(like) if isinstance(like, nn.Module) else dict(like)
    dtype = torch.float64 if any(p.dtype == torch.float64 for p in params.values()) else torch.float32
    return {name: (tuple(p.shape), dtype) for name, p in params.items()}


class ImportanceStore:
    """Importances of a model's full training set, stored once under `root/<key>.safetensors`.

    The key is a hash of `material` (the caller names the model's content hash, the dataset and
    subset, the estimator and its batch size). An entry that does not hold one tensor of its
    parameter's exact shape per trainable parameter of `like` is recomputed (see cache.tensor_store).
    """

    def __init__(self, root: str | Path):
        self.store = TensorStore(root, "importances")

    def path(self, key: str) -> Path:
        return self.store.path(key)

    def get_or_compute(self, material: dict, compute: Callable[[], Importances], use_cache: bool = True,
                       like: nn.Module | Mapping[str, torch.Tensor] | None = None) -> tuple[Importances, dict]:
        """Read the stored importances for `material`; compute and store them when absent or unusable.
        `like` (the model, or its parameters) gives the expected names and shapes."""
        key = content_key(material)
        start = time.perf_counter()
        seconds = {}

        def create():
            importances = {n: t.detach().cpu() for n, t in compute().items()}
            seconds["compute"] = time.perf_counter() - start
            return importances, {"material": material}

        expected = importance_layout(like) if like is not None else None
        importances, _, hit = self.store.get_or_create(key, create, expected=expected, use_cache=use_cache)
        elapsed = time.perf_counter() - start if hit else seconds["compute"]
        return importances, {"key": key, "cache_hit": hit, "seconds": elapsed}
