"""The template of a loop-based method: the method states its phases (which data, how many epochs,
which batch size, train or eval mode) and its loss; the template seeds, prepares the model, builds
the optimiser and the per-epoch schedule from the method's config (`_partial_` targets), batches the
data, runs the epochs with progress and autocast, clips gradients and records each epoch's loss and
learning rate and the settings in the method's report."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import seed_all
from unlearn_bench.utils.errors import UnlearnBenchError

Loss = Callable[[nn.Module, Sequence[torch.Tensor]], torch.Tensor]
# the context's datasets a phase may train on (the *_train_set ones with training augmentation)
PHASE_DATA = ("forget_set", "forget_train_set", "retain_set", "retain_train_set")


@dataclass(frozen=True)
class Phase:
    """`epochs` passes over the context's `data` in shuffled batches of `batch_size`, minimising
    `loss(model, batch)` with the model in train mode (`train_mode`) or eval mode."""

    name: str
    data: str
    epochs: int
    batch_size: int
    loss: Loss
    train_mode: bool = True

    def __post_init__(self):
        if self.data not in PHASE_DATA:
            raise ValueError(f"Phase {self.name}: data must be one of {PHASE_DATA}, got {self.data!r}.")


def describe_factory(factory) -> dict | None:
    """{'name': 'SGD', 'lr': ...} of a functools.partial optimiser or scheduler; None for none."""
    if factory is None:
        return None
    if isinstance(factory, functools.partial):
        return {"name": getattr(factory.func, "__name__", str(factory.func)), **factory.keywords}
    return {"name": getattr(factory, "__name__", type(factory).__name__)}


class GradientMethod(UnlearningMethod):
    """Subclasses implement `phases` (and `prepare`, to freeze or re-initialise layers before the
    optimiser is built, and `finish`, to undo a change to the model after the last phase); `optimizer(params)` and `scheduler(optimizer)` come from the config as
    `_partial_` targets; the scheduler, if any, steps once per epoch over all phases;
    `clip_grad_norm` clips the gradients' total norm before every step."""

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer],
                 scheduler: Callable[[torch.optim.Optimizer], object] | None = None,
                 clip_grad_norm: float | None = None):
        super().__init__()
        if not callable(optimizer):
            raise UnlearnBenchError(f"method.optimizer must be an optimiser target with _partial_: true, got "
                                    f"{optimizer!r}.")
        if clip_grad_norm is not None and clip_grad_norm <= 0:
            raise UnlearnBenchError(f"method.clip_grad_norm must be > 0 (or null for none), got {clip_grad_norm}.")
        self.optimizer, self.scheduler, self.clip_grad_norm = optimizer, scheduler, clip_grad_norm

    def phases(self, ctx: UnlearnContext) -> list[Phase]:
        raise NotImplementedError

    def prepare(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """The model the optimiser trains (its parameters with requires_grad); by default all of it."""
        return model

    def finish(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """The unlearned model, after the last phase (e.g. a temporary output removed); by default the model."""
        return model

    def settings(self) -> dict:
        """The method's own settings for its report (the template adds optimiser, schedule and losses)."""
        return {}

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        model = self.prepare(model.to(ctx.device), ctx)
        trained = [p for p in model.parameters() if p.requires_grad]
        optimizer = self.optimizer(trained)
        scheduler = self.scheduler(optimizer) if self.scheduler is not None else None
        progress = ctx.progress
        losses: dict[str, list[float]] = {}
        lrs: dict[str, list[float]] = {}
        samples: dict[str, int] = {}
        for phase in self.phases(ctx):
            data = getattr(ctx, phase.data)
            if data is None:
                raise UnlearnBenchError(f"{self.name}: the context has no {phase.data} for phase {phase.name}.")
            samples[phase.name] = len(data)
            loader = ctx.loader(data, shuffle=True, batch_size=phase.batch_size)
            losses[phase.name], lrs[phase.name] = [], []
            for epoch in range(phase.epochs):
                lrs[phase.name].append(float(optimizer.param_groups[0]["lr"]))
                losses[phase.name].append(self._epoch(model, phase, loader, optimizer, trained, ctx, progress, epoch))
                if scheduler is not None:
                    scheduler.step()
        model = self.finish(model, ctx)
        self.report = {**self.settings(), "optimizer": describe_factory(self.optimizer),
                       "scheduler": describe_factory(self.scheduler), "clip_grad_norm": self.clip_grad_norm,
                       "trained_parameters": sum(p.numel() for p in trained), "samples": samples,
                       "epoch_losses": losses, "epoch_lrs": lrs}
        return model.eval()

    def _epoch(self, model: nn.Module, phase: Phase, loader, optimizer, trained, ctx, progress: bool,
               epoch: int) -> float:
        model.train(phase.train_mode)
        total, count = 0.0, 0
        for batch in tqdm(loader, desc=f"{self.name} {phase.name} {epoch + 1}/{phase.epochs}", leave=False,
                          disable=not progress):
            batch = [t.to(ctx.device) for t in batch]
            with ctx.autocast():
                loss = phase.loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(trained, self.clip_grad_norm)
            optimizer.step()
            total += float(loss.detach()) * len(batch[0])
            count += len(batch[0])
        return total / max(count, 1)
