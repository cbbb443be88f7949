"""The plain single-device runner (the fast path: one device, no strategy, 32-bit precision)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from unlearn_bench.importance.estimators import BatchEstimator, Importances, trainable
from unlearn_bench.importance.sums import ImportanceSums


def loop_pass(fn: BatchEstimator, model: nn.Module, loader: DataLoader, device: torch.device,
               desc: str, progress: bool) -> Importances:
    model = model.to(device).eval()
    sums = ImportanceSums(trainable(model))
    with torch.enable_grad():
        for x, y in tqdm(loader, desc=desc, leave=False, disable=not progress):
            sums.add(*fn(model, x.to(device, non_blocking=True), y.to(device, non_blocking=True)))
    return sums.mean()

