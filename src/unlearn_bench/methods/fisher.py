"""Fisher Forgetting (Golatkar et al., CVPR-20, "Eternal Sunshine"), as the official SSD code runs it:
add Gaussian noise whose variance is the inverse of the retain set's diagonal Fisher."""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from unlearn_bench.importance import Importances, compute_importance
from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.utils.precision import importance_trainer_cfg


def expected_fisher_loop(model: nn.Module, dataset: Dataset, device: torch.device,
                         progress: bool = True) -> Importances:
    """The official estimator, kept as a reference: batch size 1, one backward pass per class,
    Σ_y p(y|x)·(∇ CE(x, y))² averaged over the samples (eval mode)."""
    model = model.to(device).eval()
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    sums = {n: torch.zeros_like(p) for n, p in params.items()}
    loader = DataLoader(dataset, batch_size=1, shuffle=False)
    for x, _ in tqdm(loader, desc="Fisher (batch-size-1 loop)", leave=False, disable=not progress):
        logits = model(x.to(device))
        probs = F.softmax(logits, dim=-1).detach()
        for y in range(logits.shape[1]):
            target = torch.tensor([y], device=device)
            grads = torch.autograd.grad(F.cross_entropy(logits, target), list(params.values()),
                                        retain_graph=True)
            for name, g in zip(params, grads, strict=True):
                sums[name] += probs[0, y] * g.detach() ** 2
    return {n: s / max(len(dataset), 1) for n, s in sums.items()}


def noise_distribution(theta: torch.Tensor, fisher: torch.Tensor, alpha: float, is_output: bool,
                       forget_classes: Sequence[int], var_cap: float = 1e3, output_var_cap: float = 1e2,
                       forget_row_var: float = 1e-4, boost: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of the noise for one parameter tensor, in the official code's order:
    var = α·min(1/(F+1e-8), cap) (cap 1e2 on the output layer), averaged over dim 1 for ≥2-D tensors;
    the forget classes' output rows get mean 0 and var 1e-4; then ×10 for 1-D tensors, and for the
    output layer when classes are forgotten (the official sub-class and random code has no ×10 there)."""
    var = (1.0 / (fisher + 1e-8)).clamp(max=var_cap)
    if is_output:
        var = var.clamp(max=output_var_cap)
    var = alpha * var
    if var.ndim > 1:
        var = var.mean(dim=1, keepdim=True).expand_as(theta).clone()
    mu = theta.detach().clone()
    rows = list(forget_classes)
    if is_output and rows:
        mu[rows] = 0.0
        var[rows] = forget_row_var
    if (is_output and rows) or theta.ndim == 1:
        var = var * boost
    return mu, var


class FisherForgetting(UnlearningMethod):
    """θ ← μ + √var·N(0, 1) per parameter, from the expected Fisher of the retain set (α = 1e-6).
    The Fisher is computed vectorised (torch.func vmap, `batch_size` samples at a time bounds the
    memory: batch_size × parameters floats per class), not with the official batch-size-1 loop."""

    name = "fisher"
    data_used = ("retain",)

    def __init__(self, alpha: float = 1e-6, batch_size: int = 64, var_cap: float = 1e3,
                 output_var_cap: float = 1e2, forget_row_var: float = 1e-4, boost: float = 10.0):
        super().__init__()
        self.alpha, self.batch_size, self.var_cap = alpha, batch_size, var_cap
        self.output_var_cap, self.forget_row_var, self.boost = output_var_cap, forget_row_var, boost

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        model = model.to(ctx.device)
        start = time.perf_counter()
        fisher = compute_importance("expected", model, ctx.loader(ctx.retain_set, batch_size=self.batch_size),
                                    ctx.device, desc="Fisher (retain)",
                                    trainer_cfg=importance_trainer_cfg(ctx.trainer_cfg))
        fisher_s = time.perf_counter() - start
        model = model.to(ctx.device)
        output_ids = {id(p) for p in model.get_classifier().parameters()}
        forget_classes = list(ctx.forget_classes)
        generator = torch.Generator().manual_seed(ctx.seed)
        stds: dict[str, float] = {}
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name not in fisher:
                    continue
                mu, var = noise_distribution(param, fisher[name].to(param.device), self.alpha,
                                             id(param) in output_ids, forget_classes, self.var_cap,
                                             self.output_var_cap, self.forget_row_var, self.boost)
                noise = torch.randn(param.shape, generator=generator).to(param.device)
                param.copy_(mu + var.sqrt() * noise)
                stds[name] = float(var.sqrt().mean())
        self.report = {
            "alpha": self.alpha, "estimator": "expected", "batch_size": self.batch_size,
            "importance_s": fisher_s, "retain_samples": len(ctx.retain_set),
            "importance_precision": str(importance_trainer_cfg(ctx.trainer_cfg)["precision"]),
            "forget_rows_reset": forget_classes,
            "output_layer": [n for n, p in model.named_parameters() if id(p) in output_ids],
            "noise_std_mean": sum(stds.values()) / max(len(stds), 1),
            "noise_std_max_tensor": max(stds, key=stds.get) if stds else None,
            "params_total": sum(p.numel() for n, p in model.named_parameters() if n in fisher),
        }
        return model.eval()
