"""UNSIR (Tarun et al., 2023): learn error-maximising noise for the forget class, impair the model
on noise + retain samples, then repair it on the retain samples."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import ConcatDataset, Dataset, Subset
from tqdm.auto import trange

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import dataset_labels, seed_all, train_epochs
from unlearn_bench.utils.errors import UnlearnBenchError


class NoiseDataset(Dataset):
    """Each learned noise image `repeats` times, labelled with the class it attacks."""

    def __init__(self, noise: torch.Tensor, labels: torch.Tensor, repeats: int):
        self.noise, self.labels, self.repeats = noise, labels, repeats

    def __len__(self) -> int:
        return len(self.noise) * self.repeats

    def __getitem__(self, i: int):
        j = i % len(self.noise)
        return self.noise[j], int(self.labels[j])


def learn_noise(model: nn.Module, label: int, shape: tuple[int, ...], steps: int, lr: float,
                l2_weight: float, generator: torch.Generator, device: torch.device,
                progress: bool = True, official: bool = False) -> tuple[torch.Tensor, float]:
    """Maximise CE(model(noise), label) - l2_weight·mean‖noise‖² with Adam; model in eval mode.
    official: as the official code, the model stays in train mode (BatchNorm normalises with the
    noise's batch statistics and its running statistics drift) and each step's backward pass also
    accumulates the noise loss's gradients on the model's parameters (never zeroed here)."""
    noise = torch.randn(shape, generator=generator).to(device).requires_grad_()
    optimizer = torch.optim.Adam([noise], lr=lr)
    labels = torch.full((shape[0],), label, dtype=torch.long, device=device)
    model.train(official)
    loss = torch.zeros(())
    for _ in trange(steps, desc=f"UNSIR noise (class {label})", leave=False, disable=not progress):
        penalty = noise.pow(2).sum(dim=tuple(range(1, noise.ndim))).mean()
        loss = -F.cross_entropy(model(noise), labels) + l2_weight * penalty
        if official:
            noise.grad = None
            loss.backward()
        else:
            (noise.grad,) = torch.autograd.grad(loss, [noise])
        optimizer.step()
    return noise.detach().cpu(), float(loss.detach())


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first `per_class` samples of every class, in dataset order."""
    keep = [np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


MODES = ("ours", "official")


class UNSIR(UnlearningMethod):
    """Official: 32 noise images per forget class, Adam lr 0.1 with a 0.1·L2 penalty, 25 steps (class) /
    250 (sub-class); impair 1 epoch (batch 32) on 80 copies of the noise + the first 500 retain samples of
    each retained class, repair 1 epoch (batch 128) on those retain samples; Adam 1e-4.

    mode=ours uses all learned noise images, in eval mode. mode=official reproduces the official code:
    only the first C noise images (C = image channels: it loops over the channels of the first image)
    enter the impair set, the model is in train mode while the noise is learned, and the noise loss's
    gradients stay on the model and join the first impair step's."""

    name = "unsir"
    data_used = ("retain",)  # plus the forget request's label (ctx.forget_labels), no forget sample
    tasks = ("class", "subclass")

    def __init__(self, noise_steps: Mapping[str, int] | None = None, noise_batch_size: int = 32,
                 noise_repeats: int = 80, noise_lr: float = 0.1, l2_weight: float = 0.1,
                 samples_per_class: int = 500, lr: float = 1e-4, impair_batch_size: int = 32,
                 repair_batch_size: int = 128, impair_epochs: int = 1, repair_epochs: int = 1,
                 mode: str = "ours"):
        super().__init__()
        if mode not in MODES:
            raise UnlearnBenchError(f"method.mode must be one of {', '.join(MODES)}, got {mode!r}.")
        self.mode = mode
        self.noise_steps = dict(noise_steps or {"class": 25, "subclass": 250})
        self.noise_batch_size, self.noise_repeats = noise_batch_size, noise_repeats
        self.noise_lr, self.l2_weight, self.samples_per_class = noise_lr, l2_weight, samples_per_class
        self.lr, self.impair_batch_size, self.repair_batch_size = lr, impair_batch_size, repair_batch_size
        self.impair_epochs, self.repair_epochs = impair_epochs, repair_epochs
        self.noise: list[torch.Tensor] = []

    def forget_labels(self, ctx: UnlearnContext) -> list[int]:
        """The labels the noise attacks: the forget classes, or the superclass of a forgotten sub-class."""
        if ctx.task not in self.tasks:
            raise UnlearnBenchError(
                f"UNSIR is not defined for {ctx.task} forgetting: it learns noise against a forget "
                "class, so use task=class or task=subclass."
            )
        return list(ctx.forget_labels)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        labels = self.forget_labels(ctx)
        seed_all(ctx.seed)
        progress = ctx.progress
        official = self.mode == "official"
        steps = self.noise_steps[ctx.task]
        shape = (self.noise_batch_size, *ctx.retain_set[0][0].shape)
        generator = torch.Generator().manual_seed(ctx.seed)
        model = model.to(ctx.device)
        model.zero_grad(set_to_none=True)
        learned = [learn_noise(model, c, shape, steps, self.noise_lr, self.l2_weight, generator, ctx.device,
                               progress, official) for c in labels]
        used = shape[1] if official else self.noise_batch_size  # official: one image per channel
        self.noise = [noise[:used] for noise, _ in learned]
        noise_labels = torch.tensor(labels).repeat_interleave(used)
        noise_set = NoiseDataset(torch.cat(self.noise), noise_labels, self.noise_repeats)

        group = dataset_labels(ctx.retain_set, fine=ctx.task == "subclass")
        retain_idx = first_per_class(group, self.samples_per_class)
        retain_subset = Subset(ctx.retain_set, retain_idx.tolist())
        impair = ctx.loader(ConcatDataset([noise_set, retain_subset]), shuffle=True,
                            batch_size=self.impair_batch_size)
        impair_losses = train_epochs(model, impair, torch.optim.Adam(model.parameters(), lr=self.lr),
                                     self.impair_epochs, ctx.device, desc="UNSIR impair", progress=progress,
                                     carry_grads=official, autocast=ctx.autocast)
        repair = ctx.loader(retain_subset, shuffle=True, batch_size=self.repair_batch_size)
        repair_losses = train_epochs(model, repair, torch.optim.Adam(model.parameters(), lr=self.lr),
                                     self.repair_epochs, ctx.device, desc="UNSIR repair", progress=progress,
                                     autocast=ctx.autocast)
        self.report = {
            "mode": self.mode, "noise_classes": labels, "noise_steps": steps, "noise_tensors": len(self.noise),
            "noise_shape": list(shape), "noise_samples": len(noise_set),
            "noise_final_loss": [loss for _, loss in learned], "retain_samples": len(retain_idx),
            "lr": self.lr, "impair_losses": impair_losses, "repair_losses": repair_losses,
        }
        return model.eval()
