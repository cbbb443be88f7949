"""Bad Teacher (Chundawat et al., AAAI-23): distil a competent teacher on retain samples and an
incompetent (randomly initialised) teacher on forget samples into the student."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import ConcatDataset, Subset

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import Tagged, frozen, seed_all, train_epochs
from unlearn_bench.utils.errors import UnlearnBenchError

KL_REDUCTIONS = ("batchmean", "mean")


class BadTeacher(UnlearningMethod):
    """Official: Adam 1e-4, 1 epoch over 30 % of the retain set plus the forget set, batch 256 (128 for
    ViT), T = 1. kl_reduction: batchmean (ours: the KL divergence per sample) or mean (official:
    PyTorch's default, divided by the number of classes as well)."""

    name = "bad_teacher"
    data_used = ("forget", "retain")

    def __init__(self, epochs: int = 1, lr: float = 1e-4, retain_fraction: float = 0.3,
                 temperature: float = 1.0, batch_size: int = 256, kl_reduction: str = "batchmean"):
        super().__init__()
        if kl_reduction not in KL_REDUCTIONS:
            raise UnlearnBenchError(
                f"method.kl_reduction must be one of {', '.join(KL_REDUCTIONS)}, got {kl_reduction!r}.")
        self.kl_reduction = kl_reduction
        self.epochs, self.lr, self.retain_fraction = epochs, lr, retain_fraction
        self.temperature, self.batch_size = temperature, batch_size

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        competent = frozen(copy.deepcopy(ctx.original), ctx.device)  # a copy: ctx.original stays as it is
        incompetent = frozen(ctx.build_model(), ctx.device)  # random init under the seed above
        rng = np.random.default_rng(ctx.seed)
        n_retain = int(self.retain_fraction * len(ctx.retain_set))
        retain_idx = np.sort(rng.choice(len(ctx.retain_set), size=n_retain, replace=False))
        data = ConcatDataset([Tagged(ctx.forget_set, 1), Tagged(Subset(ctx.retain_set, retain_idx.tolist()), 0)])
        temperature, reduction = self.temperature, self.kl_reduction

        def distillation_loss(student: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
            x, _, is_forget = batch
            with torch.no_grad():
                good = F.softmax(competent(x) / temperature, dim=1)
                bad = F.softmax(incompetent(x) / temperature, dim=1)
                target = torch.where(is_forget.bool()[:, None], bad, good)
            log_p = F.log_softmax(student(x) / temperature, dim=1)
            return F.kl_div(log_p, target, reduction=reduction)

        model = model.to(ctx.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        loader = ctx.loader(data, shuffle=True, batch_size=self.batch_size)
        losses = train_epochs(model, loader, optimizer, self.epochs, ctx.device, distillation_loss,
                              desc="bad teacher", progress=ctx.progress,
                              autocast=ctx.autocast)
        self.report = {"kl_reduction": self.kl_reduction, "epochs": self.epochs, "lr": self.lr, "temperature": self.temperature,
                       "batch_size": self.batch_size, "retain_fraction": self.retain_fraction,
                       "retain_samples": n_retain, "forget_samples": len(ctx.forget_set),
                       "epoch_kl": losses}
        return model.eval()
