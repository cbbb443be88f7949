"""Accumulation shared by every runner: Σ estimator sums and Σ counts, then their ratio."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from unlearn_bench.importance.estimators import Importances


class ImportanceSums:
    """Running Σ of estimator sums (one flat buffer, views per parameter) and Σ of counts."""

    def __init__(self, params: Mapping[str, torch.Tensor]):
        dtype = torch.float64 if any(p.dtype == torch.float64 for p in params.values()) else torch.float32
        device = next(iter(params.values())).device if params else torch.device("cpu")
        self.flat = torch.zeros(sum(p.numel() for p in params.values()), dtype=dtype, device=device)
        self.views: dict[str, torch.Tensor] = {}
        offset = 0
        for name, p in params.items():
            self.views[name] = self.flat[offset:offset + p.numel()].view(p.shape)
            offset += p.numel()
        self.count = 0

    def add(self, sums: Importances, count: int) -> None:
        names = list(self.views)
        torch._foreach_add_([self.views[n] for n in names], [sums[n] for n in names])
        self.count += count

    def all_reduce(self, reduce: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Sum the buffer and the count over all ranks with `reduce` (an all-reduce SUM)."""
        count = torch.tensor([float(self.count)], dtype=torch.float64, device=self.flat.device)
        reduced = reduce(self.flat)
        if reduced is not self.flat:
            self.flat.copy_(reduced)
        self.count = int(reduce(count).item())

    def mean(self) -> Importances:
        """Σ sums / Σ counts, in place; the returned tensors are views of the flat buffer."""
        self.flat.div_(max(self.count, 1))
        return dict(self.views)

