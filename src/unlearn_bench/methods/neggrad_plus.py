"""NegGrad+ (Kurmanji et al., NeurIPS 2023, "Towards Unbounded Machine Unlearning"): gradient
descent on retain batches and gradient ascent on forget batches in one weighted loss."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import paired_epochs, seed_all
from unlearn_bench.utils.errors import UnlearnBenchError

MODEL_MODES = ("eval", "train")


def l2_pull(model: nn.Module, start: dict[str, torch.Tensor], weight_decay: float) -> torch.Tensor:
    """weight_decay/2 · ‖θ − θ₀‖² over the trainable parameters (the notebook's `l2_penalty`)."""
    total = sum((p - start[name]).pow(2).sum() for name, p in model.named_parameters() if p.requires_grad)
    return total * (weight_decay / 2.0)


def neggrad_plus_loss(retain_logits: torch.Tensor, retain_y: torch.Tensor, forget_logits: torch.Tensor,
                      forget_y: torch.Tensor, alpha: float, pull: torch.Tensor | float = 0.0) -> torch.Tensor:
    """alpha·(CE(retain) + pull) − (1 − alpha)·CE(forget): minimising it ascends the forget loss."""
    retain = F.cross_entropy(retain_logits, retain_y) + pull
    return alpha * retain - (1 - alpha) * F.cross_entropy(forget_logits, forget_y)


class NegGradPlus(UnlearningMethod):
    """As the authors run it (meghdadk/SCRUB, small_scale_unlearning.ipynb, `negative_grad` and
    `run_neggrad_epoch`): the model in eval mode throughout, SGD lr 0.01 without momentum or weight
    decay, 10 epochs over the retain set (batch 128: the notebook rebuilds its retain loader at
    `args.batch_size` before NegGrad), each retain batch paired with the next forget
    batch (batch 64, the loader cycled), loss alpha·(CE_r + wd/2·‖θ − θ₀‖²) − (1 − alpha)·CE_f with
    alpha = 0.95 and the notebook's wd = 0.1 (its `--weight-decay`). model_mode=train,
    pull_weight_decay=0 and forget_batch_size=128 are this suite's earlier loop (BatchNorm in train
    mode, no pull)."""

    name = "neggrad_plus"
    data_used = ("forget", "retain")

    def __init__(self, alpha: float = 0.95, epochs: int = 10, lr: float = 0.01, momentum: float = 0.0,
                 weight_decay: float = 0.0, retain_batch_size: int = 128, forget_batch_size: int = 64,
                 pull_weight_decay: float = 0.1, model_mode: str = "eval"):
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise UnlearnBenchError(f"method.alpha must lie in [0, 1] (the retain loss weight), got {alpha}.")
        if model_mode not in MODEL_MODES:
            raise UnlearnBenchError(f"method.model_mode must be one of {', '.join(MODEL_MODES)}, got {model_mode!r}.")
        if pull_weight_decay < 0:
            raise UnlearnBenchError(f"method.pull_weight_decay must be ≥ 0, got {pull_weight_decay}.")
        self.alpha, self.epochs, self.lr, self.momentum, self.weight_decay = alpha, epochs, lr, momentum, weight_decay
        self.retain_batch_size, self.forget_batch_size = retain_batch_size, forget_batch_size
        self.pull_weight_decay, self.model_mode = pull_weight_decay, model_mode

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        model = model.to(ctx.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)
        alpha, decay = self.alpha, self.pull_weight_decay
        start = {name: p.detach().clone() for name, p in model.named_parameters()} if decay else {}

        def loss_fn(m: nn.Module, retain: Sequence[torch.Tensor], forget: Sequence[torch.Tensor]) -> torch.Tensor:
            pull = l2_pull(m, start, decay) if decay else 0.0
            return neggrad_plus_loss(m(retain[0]), retain[1], m(forget[0]), forget[1], alpha, pull)

        retain = ctx.loader(ctx.retain_set, shuffle=True, batch_size=self.retain_batch_size)
        forget = ctx.loader(ctx.forget_set, shuffle=True, batch_size=self.forget_batch_size)
        losses = paired_epochs(model, retain, forget, optimizer, self.epochs, ctx.device, loss_fn,
                               desc="NegGrad+", progress=ctx.progress, autocast=ctx.autocast,
                               train_mode=self.model_mode == "train")
        self.report = {"alpha": alpha, "epochs": self.epochs, "lr": self.lr, "model_mode": self.model_mode,
                       "pull_weight_decay": decay, "retain_batch_size": self.retain_batch_size,
                       "forget_batch_size": self.forget_batch_size,
                       "retain_samples": len(ctx.retain_set), "forget_samples": len(ctx.forget_set),
                       "epoch_losses": losses}
        return model.eval()
