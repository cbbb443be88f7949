"""FCS, the NeurIPS 2023 unlearning challenge's first-placed entry, as DeepUnlearn packages it
(xcadet/deepunlearn, munl/unlearning/kgltop1.py, which DeepUnlearn's tables call "FCS"). Stage 1: one
pass over the forget set pulling each output towards the uniform distribution (KL, batch mean).
Stage 2, `epochs` times: a forget round, each forget batch paired with a fresh retain batch, whose
loss spreads every forget output's similarity (logit dot products / temperature) evenly over the
retain batch's (detached) outputs; then one epoch of cross-entropy on the retain set. Three SGD
optimisers, each built once: stage 1's, the forget round's (cosine-annealed per step over all
forget rounds) and the retain round's (its rate × batch_size / 64, as the code scales it)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.gradient import describe_factory
from unlearn_bench.methods.loops import cross_entropy_loss, seed_all
from unlearn_bench.utils.errors import UnlearnBenchError


def uniform_kl(logits: torch.Tensor) -> torch.Tensor:
    """KL(uniform ‖ softmax(logits)) summed over the classes and averaged over the batch
    (KLDivLoss(reduction="batchmean") of log_softmax against the uniform pseudo-label)."""
    log_p = F.log_softmax(logits.float(), dim=-1)
    return F.kl_div(log_p, torch.full_like(log_p, 1.0 / log_p.shape[-1]), reduction="batchmean")


def forget_contrast_loss(forget_logits: torch.Tensor, retain_logits: torch.Tensor,
                         temperature: float) -> torch.Tensor:
    """−log_softmax over the retain batch (each row: one forget sample against every retain sample)
    of forget_logits @ retain_logitsᵀ / temperature, averaged over all |forget batch|·|retain batch|
    entries; the retain logits carry no gradient."""
    similarity = forget_logits.float() @ retain_logits.detach().float().T / temperature
    return -F.log_softmax(similarity, dim=-1).mean()


class FCS(UnlearningMethod):
    """Batch 256 for every loader (forget and retain shuffled, no augmentation), the model in train
    mode throughout; stage 1 SGD lr 5e-3 momentum 0.9; forget round SGD lr 3e-4 momentum 0.9, cosine
    to 1e-6 over len(forget loader) · epochs steps, temperature 1.15; retain round SGD lr 1e-3 · 256/64
    momentum 0.9 wd 1e-2; 8 epochs. `optimizer`, `forget_optimizer`, `retain_optimizer` and
    `forget_scheduler` are `_partial_` targets (the scheduler gets T_max from the method).
    The code draws the forget round's retain batches from a second shuffled retain loader; here one
    seeded retain loader serves both rounds, each pass in a new order (two loaders of one seed would
    repeat each other's orders). Forward passes run in `trainer.precision` (fp32 by default)."""

    name = "fcs"
    data_used = ("forget", "retain")
    tasks = ("class", "subclass", "random")  # the loss needs no labels of the forget set

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer],
                 forget_optimizer: Callable[..., torch.optim.Optimizer],
                 retain_optimizer: Callable[..., torch.optim.Optimizer],
                 forget_scheduler: Callable[..., object] | None = None, epochs: int = 8, batch_size: int = 256,
                 temperature: float = 1.15, retain_lr_batch: int | None = 64):
        super().__init__()
        for key, factory in (("optimizer", optimizer), ("forget_optimizer", forget_optimizer),
                             ("retain_optimizer", retain_optimizer)):
            if not callable(factory):
                raise UnlearnBenchError(f"method.{key} must be an optimiser target with _partial_: true, got "
                                        f"{factory!r}.")
        if temperature <= 0:
            raise UnlearnBenchError(f"method.temperature must be > 0 (it divides the logit similarities), "
                                    f"got {temperature}.")
        if retain_lr_batch is not None and retain_lr_batch <= 0:
            raise UnlearnBenchError(f"method.retain_lr_batch must be > 0 (the retain rate is scaled by "
                                    f"batch_size / retain_lr_batch), or null for none; got {retain_lr_batch}.")
        self.optimizer, self.forget_optimizer, self.retain_optimizer = optimizer, forget_optimizer, retain_optimizer
        self.forget_scheduler = forget_scheduler
        self.epochs, self.batch_size, self.temperature = epochs, batch_size, temperature
        self.retain_lr_batch = retain_lr_batch

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        model = model.to(ctx.device)
        trained = [p for p in model.parameters() if p.requires_grad]
        # built once, before any step: each keeps its own momentum across all rounds
        first = self.optimizer(trained)
        forget_opt = self.forget_optimizer(trained)
        retain_opt = self.retain_optimizer(trained)
        if self.retain_lr_batch is not None:
            for group in retain_opt.param_groups:
                group["lr"] = group["lr"] * self.batch_size / self.retain_lr_batch
        forget_loader = ctx.loader(ctx.forget_set, shuffle=True, batch_size=self.batch_size)
        # one retain loader: each pass (forget round, retain round, every epoch) a new order
        retain_loader = ctx.loader(ctx.retain_set, shuffle=True, batch_size=self.batch_size)
        total_steps = len(forget_loader) * self.epochs
        scheduler = (self.forget_scheduler(forget_opt, T_max=total_steps)
                     if self.forget_scheduler is not None else None)
        progress = ctx.progress
        steps = {"uniform": 0, "forget": 0, "retain": 0}
        losses: dict[str, list[float]] = {"uniform": [], "forget": [], "retain": []}
        lrs: dict[str, list[float]] = {"uniform": [], "forget": [], "retain": []}

        def run(name: str, pairs, loss_of, optimizer, desc: str, after_step=None) -> None:
            lrs[name].append(float(optimizer.param_groups[0]["lr"]))
            total, count = 0.0, 0
            for batches in tqdm(pairs, desc=desc, leave=False, disable=not progress):
                batches = [[t.to(ctx.device) for t in b] for b in batches]
                with ctx.autocast():
                    loss = loss_of(*batches)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if after_step is not None:
                    after_step()
                steps[name] += 1
                total += float(loss.detach()) * len(batches[0][0])
                count += len(batches[0][0])
            losses[name].append(total / max(count, 1))

        def uniform(forget) -> torch.Tensor:
            return uniform_kl(model(forget[0]))

        def contrast(forget, retain) -> torch.Tensor:
            forget_logits = model(forget[0])
            with torch.no_grad():  # the code detaches the retain outputs (BatchNorm still updates)
                retain_logits = model(retain[0])
            return forget_contrast_loss(forget_logits, retain_logits, self.temperature)

        def retain_ce(retain) -> torch.Tensor:
            return cross_entropy_loss(model, retain)

        model.train()
        run("uniform", ((b,) for b in forget_loader), uniform, first, f"{self.name} uniform")
        for epoch in range(self.epochs):
            model.train()
            run("forget", zip(forget_loader, retain_loader, strict=False), contrast, forget_opt,
                f"{self.name} forget {epoch + 1}/{self.epochs}", scheduler.step if scheduler is not None else None)
            run("retain", ((b,) for b in retain_loader), retain_ce, retain_opt,
                f"{self.name} retain {epoch + 1}/{self.epochs}")
        self.report = {"epochs": self.epochs, "batch_size": self.batch_size, "temperature": self.temperature,
                       "optimizer": describe_factory(self.optimizer), "forget_optimizer": describe_factory(self.forget_optimizer),
                       "retain_optimizer": describe_factory(self.retain_optimizer),
                       "retain_lr": float(retain_opt.param_groups[0]["lr"]), "retain_lr_batch": self.retain_lr_batch,
                       "forget_scheduler": describe_factory(self.forget_scheduler), "forget_schedule_steps": total_steps,
                       "trained_parameters": sum(p.numel() for p in trained),
                       "samples": {"forget": len(ctx.forget_set), "retain": len(ctx.retain_set)},
                       "steps": steps, "epoch_losses": losses, "epoch_lrs": lrs}
        return model.eval()
