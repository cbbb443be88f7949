"""JiT (Foster et al., 2024, "Zero-shot machine unlearning at scale via Lipschitz regularization"):
using the forget samples only, make the model smooth around them — minimise how far its output moves
under small input noise, relative to the size of the noise."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from tqdm.auto import tqdm

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import seed_all
from unlearn_bench.utils.errors import UnlearnBenchError

MODEL_MODES = ("train", "eval")


def perturb(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x + N(0, σ²) noise, clamped to the batch's own [min, max] (the official AddGaussianNoise)."""
    noise = torch.randn(x.shape, generator=generator, device=generator.device if generator else "cpu")
    return torch.clamp(x + noise.to(x.device, x.dtype) * sigma, min=x.min(), max=x.max())


def lipschitz_loss(out: torch.Tensor, out_perturbed: torch.Tensor, x: torch.Tensor,
                   x_perturbed: torch.Tensor) -> torch.Tensor:
    """Σ_i ‖f(x_i) − f(x'_i)‖ / ‖x_i − x'_i‖ over the batch (an empirical local Lipschitz constant)."""
    out_norm = torch.linalg.vector_norm((out - out_perturbed).flatten(1), dim=1)
    in_norm = torch.linalg.vector_norm((x - x_perturbed).flatten(1), dim=1)
    return (out_norm / in_norm).sum()


def jit_loss(model: nn.Module, x: torch.Tensor, sigma: float, n_samples: int,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """The mean over `n_samples` perturbations of `lipschitz_loss`; gradients flow through f(x) only
    (the perturbed outputs are computed without them, as in the official code)."""
    out = model(x)
    total = out.new_zeros(())
    for _ in range(n_samples):
        x2 = perturb(x, sigma, generator)
        with torch.no_grad():
            out2 = model(x2)
        total = total + lipschitz_loss(out, out2, x, x2)
    return total / n_samples


class JiT(UnlearningMethod):
    """As the authors run it (jwf40/Zeroshot-Unlearning-At-Scale, src/lipschitz.py `modify_weight`,
    forget_*_main.py): one pass of plain SGD over the forget set (batch 128, unshuffled), N = 25
    perturbations per step, the model left in train mode. The authors zero the gradients once before
    the pass and never inside it, so step k applies the sum of the first k batches' gradients
    (accumulate_gradients=true); false zeroes them every step (this suite's earlier loop). They tuned
    η and σ for VGG16 and ViT-B/16 only (no ResNet18): here the VGG16 values, η = 3e-4 with σ = 0.5
    for class forgetting and σ = 0.01 for sub-class and random forgetting.

    model_mode=eval is ours: the authors' networks (torchvision's VGG11 as "VGG16", ViT) have no
    BatchNorm, so their train-mode pass changes no statistics; on a network with BatchNorm the same
    pass moves the running statistics towards the 25 noisy copies of every forget batch, which alone
    can cut the model's accuracy on every class. Eval mode keeps the original's statistics."""

    name = "jit"
    data_used = ("forget",)

    def __init__(self, lr: float = 3e-4, sigma: Mapping[str, float] | None = None, n_samples: int = 25,
                 batch_size: int = 128, accumulate_gradients: bool = True, model_mode: str = "train"):
        super().__init__()
        if model_mode not in MODEL_MODES:
            raise UnlearnBenchError(f"method.model_mode must be one of {', '.join(MODEL_MODES)}, got {model_mode!r}.")
        self.model_mode = model_mode
        self.lr, self.n_samples, self.batch_size = lr, n_samples, batch_size
        self.sigma = dict(sigma or {"class": 0.5, "subclass": 0.01, "random": 0.01})
        self.accumulate_gradients = bool(accumulate_gradients)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        sigma = float(self.sigma[ctx.split.task])
        model = model.to(ctx.device).train(self.model_mode == "train")  # train: the official code never calls eval()
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr)
        generator = torch.Generator(device=ctx.device).manual_seed(ctx.seed)
        losses = []
        loader = ctx.loader(ctx.forget_set, shuffle=False, batch_size=self.batch_size)
        optimizer.zero_grad(set_to_none=True)
        for batch in tqdm(loader, desc="JiT", leave=False, disable=not ctx.progress):
            x = batch[0].to(ctx.device)
            with ctx.autocast():
                loss = jit_loss(model, x, sigma, self.n_samples, generator)
            if not self.accumulate_gradients:
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        self.report = {"lr": self.lr, "sigma": sigma, "n_samples": self.n_samples,
                       "accumulate_gradients": self.accumulate_gradients, "model_mode": self.model_mode,
                       "forget_samples": len(ctx.forget_set), "batch_losses": losses}
        return model.eval()
