"""SFR-on (Huang et al., NeurIPS 2024, arXiv 2409.19732, "Unified Gradient-Based Machine Unlearning
with Remain Geometry Enhancement"; K1nght/Unified-Unlearning-w-Remain-Geometry,
Classification/unlearn/sfron.py): online Saliency Forgetting in the Remain-preserving manifold. One SGD
optimiser takes, at every iteration t, a retain step (mean CE) and, every `forget_every`-th iteration
before it, a forget step: adaptive gradient ascent −α_t·Σ c_i ℓ_i / Σ c_i with c_i = ℓ_i^(−λ)
(detached) and α_t cosine-decayed, its gradient restricted to the weights whose forget Fisher is at
least `threshold` times their retain Fisher, then clipped in norm."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.gradient import describe_factory
from unlearn_bench.methods.loops import Autocast, seed_all
from unlearn_bench.methods.saliency import batch_gradients
from unlearn_bench.utils.errors import UnlearnBenchError

EPS = 1e-15  # the authors' constant, in the adaptive weights and in the Fisher ratio


def adaptive_loss(logits: torch.Tensor, targets: torch.Tensor, lambd: float) -> torch.Tensor:
    """Σ c_i ℓ_i / Σ c_i with ℓ_i the per-sample CE and c_i = 1 / (ℓ_i^λ + 1e-15), the weights
    detached: the batch's least-forgotten samples (small ℓ_i) weigh most in the ascent."""
    losses = F.cross_entropy(logits, targets, reduction="none")
    coef = 1.0 / (losses.detach().pow(lambd) + EPS)
    return (coef / coef.sum() * losses).sum()


def forget_weight(alpha: float, t: int, iterations: int) -> float:
    """α_t = α · (1 + cos(π t / T)) / 2: the forget loss's weight at iteration t of T."""
    return alpha * (1 + math.cos(math.pi * t / iterations)) / 2


def mean_squared_gradients(model: nn.Module, loader: Iterable, device: torch.device,
                           autocast: Autocast) -> dict[str, torch.Tensor]:
    """Per parameter entry, the mean over batches of (∇θ of the batch's mean CE)², in eval mode."""
    total = {name: torch.zeros_like(p, dtype=torch.float32) for name, p in model.named_parameters()}
    count = 0
    for grads in batch_gradients(model, loader, device, autocast):
        for name, g in grads.items():
            total[name] += g ** 2
        count += 1
    return {name: s / max(count, 1) for name, s in total.items()}


def saliency_mask(forget_fisher: dict[str, torch.Tensor], retain_fisher: dict[str, torch.Tensor],
                  threshold: float) -> dict[str, torch.Tensor]:
    """True where (F_forget + 1e-15) / (F_retain + 1e-15) ≥ threshold: the weights the forget steps move."""
    return {name: (f + EPS) / (retain_fisher[name] + EPS) >= threshold for name, f in forget_fisher.items()}


def _cycled(loader: Iterable) -> Iterator:
    """The loader's batches without end, a new pass (a new shuffled order) each time it runs out."""
    while True:
        yield from loader


class SFROn(UnlearningMethod):
    """As the authors run it for random forgetting on CIFAR-10 (unlearn/sfron.py, main_random.py,
    scripts/unlearn.sh): 1500 iterations, batch 128, both loaders reshuffled at every pass and with
    the training augmentation (augment=false: the un-augmented images), the model in train mode for
    both steps; SGD lr 0.01 momentum 0.9 wd 5e-4 shared by the two steps, CosineAnnealingLR stepped
    once per iteration; a forget step at t % 5 == 0 with α = 25, λ = 0.5, the mask of Fisher ratio
    ≥ 1 (computed once, before unlearning, in eval mode on the same loaders) and gradient norm
    clipped at 7; the retain step unmasked and unclipped. The masked-out weights still move in a
    forget step by the optimiser's momentum and weight decay, as in the authors' code."""

    name = "sfron"
    data_used = ("forget", "retain")
    tasks = ("random",)

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer],
                 scheduler: Callable[[torch.optim.Optimizer], object] | None = None, iterations: int = 1500,
                 forget_every: int = 5, alpha: float = 25.0, lambd: float = 0.5, threshold: float = 1.0,
                 mask: bool = True, clip_grad_norm: float | None = 7.0, batch_size: int = 128,
                 augment: bool = True):
        super().__init__()
        if not callable(optimizer):
            raise UnlearnBenchError(f"method.optimizer must be an optimiser target with _partial_: true, got "
                                    f"{optimizer!r}.")
        if iterations < 1 or forget_every < 1:
            raise UnlearnBenchError(f"method.iterations and method.forget_every must be ≥ 1, got {iterations} "
                                    f"and {forget_every}.")
        if clip_grad_norm is not None and clip_grad_norm <= 0:
            raise UnlearnBenchError(f"method.clip_grad_norm must be > 0 (or null for none), got {clip_grad_norm}.")
        self.optimizer, self.scheduler, self.clip_grad_norm = optimizer, scheduler, clip_grad_norm
        self.iterations, self.forget_every, self.alpha, self.lambd = iterations, forget_every, alpha, lambd
        self.threshold, self.mask, self.batch_size, self.augment = threshold, mask, batch_size, augment

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        if ctx.task not in self.tasks:
            raise UnlearnBenchError(f"SFR-on is not defined for {ctx.task} forgetting: the authors run it on "
                                    "random forget sets only, so use task=random.")
        seed_all(ctx.seed)
        model = model.to(ctx.device)
        forget = ctx.forget_train_set if self.augment else ctx.forget_set
        retain = ctx.retain_train_set if self.augment else ctx.retain_set
        if forget is None or retain is None or not len(forget) or not len(retain):
            raise UnlearnBenchError("sfron: the context has no forget or no retain samples to unlearn with.")
        forget_loader = ctx.loader(forget, shuffle=True, batch_size=self.batch_size)
        retain_loader = ctx.loader(retain, shuffle=True, batch_size=self.batch_size)
        masks = None
        if self.mask:
            masks = saliency_mask(mean_squared_gradients(model, forget_loader, ctx.device, ctx.autocast),
                                  mean_squared_gradients(model, retain_loader, ctx.device, ctx.autocast),
                                  self.threshold)
        params = list(model.parameters())
        named = list(model.named_parameters())
        optimizer = self.optimizer(params)
        scheduler = self.scheduler(optimizer) if self.scheduler is not None else None
        forget_batches, retain_batches = _cycled(forget_loader), _cycled(retain_loader)
        forget_losses, retain_losses = [], []
        for t in tqdm(range(self.iterations), desc=self.name, leave=False, disable=not ctx.progress):
            model.train()
            if t % self.forget_every == 0:
                x, y = (v.to(ctx.device) for v in next(forget_batches)[:2])
                with ctx.autocast():
                    ascent = adaptive_loss(model(x), y, self.lambd)
                optimizer.zero_grad(set_to_none=True)
                (-forget_weight(self.alpha, t, self.iterations) * ascent).backward()
                if masks is not None:
                    for name, p in named:
                        if p.grad is not None:
                            p.grad.mul_(masks[name])
                if self.clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(params, self.clip_grad_norm)
                optimizer.step()
                forget_losses.append(float(ascent.detach()))
            x, y = (v.to(ctx.device) for v in next(retain_batches)[:2])
            with ctx.autocast():
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            retain_losses.append(float(loss.detach()))
            if scheduler is not None:
                scheduler.step()
        self.report = {
            "iterations": self.iterations, "forget_every": self.forget_every, "alpha": self.alpha,
            "lambd": self.lambd, "threshold": self.threshold, "mask": self.mask,
            "clip_grad_norm": self.clip_grad_norm, "batch_size": self.batch_size, "augment": self.augment,
            "optimizer": describe_factory(self.optimizer), "scheduler": describe_factory(self.scheduler),
            "samples": {"forget": len(forget), "retain": len(retain)},
            "forget_steps": len(forget_losses), "retain_steps": len(retain_losses),
            "salient_weights": sum(int(m.sum()) for m in masks.values()) if masks is not None else None,
            "weights": sum(p.numel() for p in params),
            "forget_loss_first_last": [forget_losses[0], forget_losses[-1]],
            "retain_loss_first_last": [retain_losses[0], retain_losses[-1]],
        }
        return model.eval()
