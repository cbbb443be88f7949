"""SCRUB (Kurmanji et al., NeurIPS 2023, "Towards Unbounded Machine Unlearning"): the student (the
model) is pushed away from the original (the teacher) on forget samples — max-steps — and kept close
to it, and correct, on retain samples — min-steps. SCRUB+R rewinds to the epoch whose forget error is
closest to the error on held-out data of the same distribution."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Subset

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.loops import (
    dataset_labels,
    frozen,
    seed_all,
    train_epochs,
)
from unlearn_bench.utils.errors import UnlearnBenchError


def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(p_teacher ‖ p_student) at temperature T, times T², averaged over the batch."""
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    p_teacher = F.softmax(teacher_logits / temperature, dim=1)
    kl = F.kl_div(log_p_student, p_teacher, reduction="sum")
    return kl * temperature**2 / student_logits.shape[0]


def max_step_loss(teacher: nn.Module, temperature: float):
    """The forget-set loss: −KL (minimising it moves the student away from the teacher)."""

    def loss(student: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            target = teacher(batch[0])
        return -distill_kl(student(batch[0]), target, temperature)

    return loss


def min_step_loss(teacher: nn.Module, temperature: float, gamma: float, alpha: float):
    """The retain-set loss: gamma·CE + alpha·KL."""

    def loss(student: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            target = teacher(batch[0])
        logits = student(batch[0])
        return gamma * F.cross_entropy(logits, batch[1]) + alpha * distill_kl(logits, target, temperature)

    return loss


def decayed_lr(lr: float, epoch: int, decay_epochs: Sequence[int], rate: float) -> float:
    """The official schedule: lr · rate^(number of decay epochs strictly below `epoch`, counted from 1)."""
    return lr * rate ** int(np.sum(epoch > np.asarray(decay_epochs)))


@torch.no_grad()
def error_rate(model: nn.Module, loader, device: torch.device, autocast) -> float:
    """Percentage of misclassified samples (eval mode)."""
    model.eval()
    wrong = total = 0
    for batch in loader:
        x, y = batch[0].to(device), batch[1].to(device)
        with autocast():
            wrong += int((model(x).argmax(1) != y).sum())
        total += len(y)
    return 100.0 * wrong / max(total, 1)


REWIND_REFERENCES = ("forget_classes", "validation")


class SCRUB(UnlearningMethod):
    """Official (meghdadk/SCRUB, large_scale_unlearning.ipynb, CIFAR-10 ResNet): SGD lr 5e-4, momentum
    0.9, weight decay 5e-4; 3 epochs, max-steps in the first 2 (msteps), forget batch 512, retain batch
    256; T = 4, gamma = 0.99, alpha = 0.001; lr decays ×0.1 after epochs 3, 5, 9 (not reached in 3).
    Rewind (SCRUB+R) is the paper's choice for small random forget sets; here on for task=random only.
    Its reference is the final model's error on the validation samples of the classes present in the
    forget set (rewind_reference=forget_classes, the authors' MIA_experiments.ipynb `scrub`), or on the
    whole validation split (`validation`, this suite's earlier reference); the candidates are the
    models after each epoch (the authors' list also holds the model before the first epoch, whose
    checkpoint their code never saves)."""

    name = "scrub"
    data_used = ("forget", "retain")

    def __init__(self, epochs: int = 3, max_steps: int = 2, lr: float = 5e-4, momentum: float = 0.9,
                 weight_decay: float = 5e-4, temperature: float = 4.0, gamma: float = 0.99, alpha: float = 0.001,
                 lr_decay_epochs: Sequence[int] = (3, 5, 9), lr_decay_rate: float = 0.1,
                 forget_batch_size: int = 512, retain_batch_size: int = 256,
                 rewind: Mapping[str, bool] | None = None, rewind_reference: str = "forget_classes"):
        super().__init__()
        if rewind_reference not in REWIND_REFERENCES:
            raise UnlearnBenchError(f"method.rewind_reference must be one of {', '.join(REWIND_REFERENCES)}, "
                                    f"got {rewind_reference!r}.")
        self.rewind_reference = rewind_reference
        self.epochs, self.max_steps, self.lr, self.momentum, self.weight_decay = epochs, max_steps, lr, momentum, weight_decay
        self.temperature, self.gamma, self.alpha = temperature, gamma, alpha
        self.lr_decay_epochs, self.lr_decay_rate = list(lr_decay_epochs), lr_decay_rate
        self.forget_batch_size, self.retain_batch_size = forget_batch_size, retain_batch_size
        self.rewind = dict(rewind or {"class": False, "subclass": False, "random": True})

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        seed_all(ctx.seed)
        teacher = frozen(copy.deepcopy(ctx.original), ctx.device)
        student = model.to(ctx.device)
        optimizer = torch.optim.SGD(student.parameters(), lr=self.lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)
        forget = ctx.loader(ctx.forget_set, shuffle=True, batch_size=self.forget_batch_size)
        retain = ctx.loader(ctx.retain_set, shuffle=True, batch_size=self.retain_batch_size)
        maximise = max_step_loss(teacher, self.temperature)
        minimise = min_step_loss(teacher, self.temperature, self.gamma, self.alpha)
        progress = ctx.progress
        rewind = bool(self.rewind.get(ctx.split.task, False))
        max_losses, min_losses, checkpoints = [], [], []
        for epoch in range(1, self.epochs + 1):
            for group in optimizer.param_groups:
                group["lr"] = decayed_lr(self.lr, epoch, self.lr_decay_epochs, self.lr_decay_rate)
            if epoch <= self.max_steps:
                max_losses += train_epochs(student, forget, optimizer, 1, ctx.device, maximise,
                                           desc=f"SCRUB max {epoch}/{self.epochs}", progress=progress,
                                           autocast=ctx.autocast)
            min_losses += train_epochs(student, retain, optimizer, 1, ctx.device, minimise,
                                       desc=f"SCRUB min {epoch}/{self.epochs}", progress=progress,
                                       autocast=ctx.autocast)
            if rewind:
                checkpoints.append(copy.deepcopy(student.state_dict()))
        self.report = {"epochs": self.epochs, "max_steps": self.max_steps, "lr": self.lr,
                       "temperature": self.temperature, "gamma": self.gamma, "alpha": self.alpha,
                       "forget_samples": len(ctx.forget_set), "retain_samples": len(ctx.retain_set),
                       "max_losses": max_losses, "min_losses": min_losses, "rewind": rewind}
        if rewind:
            self.rewind_to_reference(student, checkpoints, ctx)
        return student.eval()

    def rewind_reference_set(self, ctx: UnlearnContext):
        """The validation samples the rewind compares against (see rewind_reference)."""
        if self.rewind_reference == "validation":
            return ctx.val_set
        classes = np.unique(dataset_labels(ctx.forget_set))
        keep = np.flatnonzero(np.isin(dataset_labels(ctx.val_set), classes))
        return Subset(ctx.val_set, keep.tolist())

    def rewind_to_reference(self, student: nn.Module, checkpoints: list[dict], ctx: UnlearnContext) -> None:
        """Load the checkpoint whose forget error is closest to the final model's reference error."""
        reference_set = self.rewind_reference_set(ctx)
        val = ctx.loader(reference_set, batch_size=self.retain_batch_size)
        forget = ctx.loader(ctx.forget_set, batch_size=self.forget_batch_size)
        reference = error_rate(student, val, ctx.device, ctx.autocast)
        forget_errors = []
        for state in checkpoints:
            student.load_state_dict(state)
            forget_errors.append(error_rate(student, forget, ctx.device, ctx.autocast))
        chosen = int(np.argmin(np.abs(np.asarray(forget_errors) - reference)))
        student.load_state_dict(checkpoints[chosen])
        self.report.update({"rewind_reference": self.rewind_reference, "rewind_reference_samples": len(reference_set),
                            "rewind_reference_error": reference, "rewind_forget_errors": forget_errors,
                            "rewind_epoch": chosen + 1})
