"""ℓ1-sparse unlearning (Jia et al., NeurIPS 2023, "Model Sparsity Can Simplify Machine Unlearning"):
fine-tune on the retain set with an ℓ1 penalty on the weights whose weight decays linearly to 0."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import UnlearnContext
from unlearn_bench.methods.finetune import Finetune
from unlearn_bench.methods.loops import LossFn


def l1_schedule(alpha: float, epochs: int) -> list[float]:
    """The penalty weight of each epoch t = 0..epochs-1: alpha·(1 − t/epochs) (official FT_l1)."""
    return [alpha * (1 - t / epochs) for t in range(epochs)]


def l1_norm(model: nn.Module) -> torch.Tensor:
    """‖θ‖₁ over every parameter of `model`."""
    return sum(p.abs().sum() for p in model.parameters())


class L1Sparse(Finetune):
    """Official (OPTML-Group/Unlearn-Sparse, `--unlearn FT_prune`): 10 epochs of SGD lr 0.01, momentum
    0.9, weight decay 5e-4, batch 256 on the retain set, loss CE + alpha_t·‖θ‖₁."""

    name = "l1_sparse"

    def __init__(self, alpha: float = 5e-4, epochs: int = 10, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 5e-4, batch_size: int = 256):
        super().__init__(epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=batch_size)
        self.alpha = alpha

    def epoch_loss(self, epoch: int) -> LossFn:
        weight = l1_schedule(self.alpha, self.epochs)[epoch]

        def loss(model: nn.Module, batch) -> torch.Tensor:
            return F.cross_entropy(model(batch[0]), batch[1]) + weight * l1_norm(model)

        return loss

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        model = super().unlearn(model, ctx)
        self.report.update({"alpha": self.alpha, "alpha_schedule": l1_schedule(self.alpha, self.epochs),
                            "final_l1_norm": float(l1_norm(model).detach())})
        return model
