"""Relearn time: how many fine-tuning steps on the forget set bring back the original model's
forget accuracy. A model that merely hides the forget set relearns it in a few steps; a model that
never learned it needs as many as the gold (retrained) model, which the record holds as reference."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from unlearn_bench.metrics.split_metrics import accuracy
from unlearn_bench.utils.errors import UnlearnBenchError


@dataclass(frozen=True)
class RelearnConfig:
    """SGD fine-tuning on the forget set; the model stays in eval mode (BatchNorm statistics and
    dropout frozen), so only the weights relearn. Accuracy is checked on the whole forget set
    before the first step and after every step; `tolerance` points below the target count as
    reached; a run that has not reached it after `max_steps` reports max_steps and reached=False."""

    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 32
    max_steps: int = 100
    tolerance: float = 2.0

    def __post_init__(self):
        if self.lr <= 0 or self.batch_size < 1 or self.max_steps < 0 or self.tolerance < 0:
            raise UnlearnBenchError(
                f"lenses.relearn needs lr > 0, batch_size ≥ 1, max_steps ≥ 0 and tolerance ≥ 0; got {self}.")


def _tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*(batch for batch in DataLoader(dataset, batch_size=len(dataset))), strict=True)
    return torch.cat(xs), torch.cat(ys)


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return accuracy(model(x), y)  # non-finite outputs count as wrong


def relearn_steps(model: nn.Module, forget_set: Dataset, target_acc: float, cfg: RelearnConfig,
                  device: torch.device, seed: int = 0) -> dict:
    """Steps until a copy of `model`, fine-tuned on `forget_set`, reaches `target_acc` − tolerance
    (% on the forget set). Returns {"steps", "reached", "final_acc"}; `model` is left unchanged."""
    if len(forget_set) == 0:
        return {"steps": None, "reached": None, "final_acc": None}
    net = copy.deepcopy(model).to(device).eval()
    x, y = (t.to(device) for t in _tensors(forget_set))
    goal = target_acc - cfg.tolerance
    optimizer = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    generator = torch.Generator().manual_seed(seed)
    acc = _accuracy(net, x, y)
    steps = 0
    while acc < goal and steps < cfg.max_steps:
        idx = torch.randperm(len(y), generator=generator)[: cfg.batch_size].to(device)
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(net(x[idx]), y[idx]).backward()
        optimizer.step()
        steps += 1
        acc = _accuracy(net, x, y)
    return {"steps": steps, "reached": acc >= goal, "final_acc": acc}
