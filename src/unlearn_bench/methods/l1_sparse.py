"""ℓ1-sparse unlearning (Jia et al., NeurIPS 2023, "Model Sparsity Can Simplify Machine Unlearning"):
fine-tune on the retain set with an ℓ1 penalty on the weights whose weight decays linearly to 0."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import progress_enabled, seed_all, train_epochs


def l1_schedule(alpha: float, epochs: int) -> list[float]:
    """The penalty weight of each epoch t = 0..epochs-1: alpha·(1 − t/epochs) (official FT_l1)."""
    return [alpha * (1 - t / epochs) for t in range(epochs)]


def l1_norm(model: nn.Module) -> torch.Tensor:
    """‖θ‖₁ over every parameter of `model`."""
    return sum(p.abs().sum() for p in model.parameters())


class L1Sparse(UnlearningMethod):
    """Official (OPTML-Group/Unlearn-Sparse, `--unlearn FT_prune`): 10 epochs of SGD lr 0.01, momentum
    0.9, weight decay 5e-4, batch 256 on the retain set, loss CE + alpha_t·‖θ‖₁."""

    name = "l1_sparse"
    data_used = ("retain",)

    def __init__(self, alpha: float = 5e-4, epochs: int = 10, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 5e-4, batch_size: int = 256):
        super().__init__()
        self.alpha, self.epochs, self.lr, self.momentum = alpha, epochs, lr, momentum
        self.weight_decay, self.batch_size = weight_decay, batch_size

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        model = model.to(ctx.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)
        loader = ctx.loader(ctx.retain_set, shuffle=True, batch_size=self.batch_size)
        schedule = l1_schedule(self.alpha, self.epochs)
        losses = []
        for epoch, weight in enumerate(schedule):
            def loss_fn(m: nn.Module, batch, weight: float = weight) -> torch.Tensor:
                return F.cross_entropy(m(batch[0]), batch[1]) + weight * l1_norm(m)

            losses += train_epochs(model, loader, optimizer, 1, ctx.device, loss_fn,
                                   desc=f"l1-sparse epoch {epoch + 1}/{self.epochs}",
                                   progress=progress_enabled(ctx.trainer_cfg), autocast=ctx.autocast)
        self.report = {"alpha": self.alpha, "alpha_schedule": schedule, "epochs": self.epochs, "lr": self.lr,
                       "retain_samples": len(ctx.retain_set), "epoch_losses": losses,
                       "final_l1_norm": float(l1_norm(model).detach())}
        return model.eval()
