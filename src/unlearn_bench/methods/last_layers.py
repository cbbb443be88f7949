"""CF-k and EU-k (Goel et al., "Towards Adversarial Evaluations for Inexact Machine Unlearning", 2022):
the last k layers trained on the retain set, the rest frozen; EU-k re-initialises those layers first.
As the authors' code runs them (shash42/Evaluating-Inexact-Unlearning, src/methods.py, src/learn.py)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from unlearn_bench.methods.base import UnlearnContext
from unlearn_bench.methods.gradient import GradientMethod, Phase
from unlearn_bench.methods.loops import cross_entropy_loss
from unlearn_bench.utils.errors import UnlearnBenchError

LAYERS = (nn.Conv2d, nn.Linear)
NORMS = (nn.modules.batchnorm._BatchNorm,)


def last_layers(model: nn.Module, k: int) -> list[tuple[str, nn.Module]]:
    """The authors' "last k layers": walking the Conv2d, Linear and BatchNorm modules backwards from
    the output (registration order reversed), every module met until the k-th Conv2d/Linear, that one
    included; only Conv2d/Linear count towards k, so the BatchNorms after each counted layer come too."""
    modules = [(name, m) for name, m in model.named_modules() if isinstance(m, LAYERS + NORMS)]
    available = sum(isinstance(m, LAYERS) for _, m in modules)
    if not 1 <= k <= available:
        raise UnlearnBenchError(f"method.k must lie in 1..{available} (the model's Conv2d and Linear layers), "
                                f"got {k}.")
    chosen, counted = [], 0
    for name, module in reversed(modules):
        chosen.append((name, module))
        if isinstance(module, LAYERS):
            counted += 1
            if counted == k:
                break
    return chosen


def reinitialise(module: nn.Module) -> None:
    """The authors' re-initialisation of a Conv2d/Linear: Kaiming normal (fan in) weights, zero bias."""
    nn.init.kaiming_normal_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


class LastLayers(GradientMethod):
    """The last `k` layers (last_layers) trained for `epochs` on the retain set with its training
    augmentation, batch 64, the whole model in train mode (the frozen BatchNorms keep updating their
    running statistics, as in the authors' code), gradients clipped; the optimiser and the per-epoch
    schedule come from the config."""

    data_used = ("retain",)
    reinitialise_layers = False

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer], k: int = 6, epochs: int = 30,
                 batch_size: int = 64, scheduler=None, clip_grad_norm: float | None = 10.0):
        super().__init__(optimizer, scheduler, clip_grad_norm)
        self.k, self.epochs, self.batch_size = k, epochs, batch_size
        self.layers: list[str] = []

    def prepare(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        chosen = last_layers(model, self.k)
        model.requires_grad_(False)
        for _, module in chosen:
            module.requires_grad_(True)
            if self.reinitialise_layers and isinstance(module, LAYERS):
                reinitialise(module)
        self.layers = [name for name, _ in chosen]
        return model

    def phases(self, ctx: UnlearnContext) -> list[Phase]:
        return [Phase("retain", "retain_train_set", self.epochs, self.batch_size, cross_entropy_loss, train_mode=True)]

    def settings(self) -> dict:
        return {"k": self.k, "epochs": self.epochs, "batch_size": self.batch_size, "layers": self.layers,
                "reinitialised": self.reinitialise_layers}


class CFk(LastLayers):
    """CF-k: catastrophic forgetting of the last k layers (fine-tuned on the retain set)."""

    name = "cf_k"


class EUk(LastLayers):
    """EU-k: exact unlearning of the last k layers (re-initialised, then trained on the retain set)."""

    name = "eu_k"
    reinitialise_layers = True
