"""Boundary Unlearning (Chen et al., CVPR 2023): Boundary Shrink moves each forget sample to the class
its nearest adversarial neighbour falls into; Boundary Expanding sends the forget samples to a shadow
class added to the head, then prunes that class away. As the authors' code runs them
(Boundary-Unlearning-Code, boundary_unlearning.py, adv_generator.py): the forget set without
augmentation, batch 64, 10 epochs, SGD lr 1e-5 momentum 0.9 over every parameter, train mode."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import UnlearnContext
from unlearn_bench.methods.gradient import GradientMethod, Phase
from unlearn_bench.methods.loops import frozen
from unlearn_bench.utils.errors import UnlearnBenchError


def pixel_stats(dataset, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel mean and std a dataset normalises with (1-D tensors)."""
    spec = getattr(dataset, "spec", None)
    if spec is None:
        raise UnlearnBenchError("Boundary Shrink needs the forget set's normalisation (an ImageDataset with a spec) "
                                "to take its FGSM step in pixel space.")
    return (torch.tensor(spec.mean, dtype=torch.float32, device=device),
            torch.tensor(spec.std, dtype=torch.float32, device=device))


def fgsm_neighbour(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, mean: torch.Tensor,
                   std: torch.Tensor) -> torch.Tensor:
    """One FGSM step of size `eps` in [0, 1] pixel space on the normalised batch `x` (pixels clamped
    to [0, 1] and rounded to the 1/255 grid, as the authors' attack does), returned normalised."""
    channels = (1, -1) + (1,) * (x.dim() - 2)  # N×C×H×W, or N×C
    mean, std = mean.view(channels), std.view(channels)
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        grad, = torch.autograd.grad(F.cross_entropy(model(x), y), x)
    pixels = x.detach() * std + mean
    moved = torch.clamp(pixels + eps * grad.sign(), 0.0, 1.0)
    moved = torch.round(moved * 255) / 255
    return (moved - mean) / std


class BoundaryShrink(GradientMethod):
    """Each forget batch: its FGSM neighbours under the frozen original (eval mode), their predicted
    classes as the new labels, one step of CE towards them on the clean images. The report records
    the share of forget samples whose neighbour left their class."""

    name = "boundary_shrink"
    data_used = ("forget",)
    tasks = ("class", "subclass")

    def __init__(self, optimizer, eps: float = 0.1, epochs: int = 10, batch_size: int = 64, scheduler=None,
                 clip_grad_norm: float | None = None):
        super().__init__(optimizer, scheduler, clip_grad_norm)
        if eps <= 0:
            raise UnlearnBenchError(f"method.eps must be > 0 (the FGSM step in pixel space), got {eps}.")
        self.eps, self.epochs, self.batch_size = eps, epochs, batch_size
        self.moved = [0, 0]  # forget samples whose neighbour's class differs from their label, all seen

    def phases(self, ctx: UnlearnContext) -> list[Phase]:
        attacker = frozen(copy.deepcopy(ctx.original), ctx.device)
        mean, std = pixel_stats(ctx.forget_set, ctx.device)

        def loss(model: nn.Module, batch) -> torch.Tensor:
            x, y = batch[0], batch[1]
            neighbour = fgsm_neighbour(attacker, x, y, self.eps, mean, std)
            with torch.no_grad():
                target = attacker(neighbour).argmax(1)
            self.moved[0] += int((target != y).sum())
            self.moved[1] += len(y)
            return F.cross_entropy(model(x), target)

        return [Phase("shrink", "forget_set", self.epochs, self.batch_size, loss, train_mode=True)]

    def settings(self) -> dict:
        share = 100.0 * self.moved[0] / self.moved[1] if self.moved[1] else None
        return {"eps": self.eps, "epochs": self.epochs, "batch_size": self.batch_size,
                "neighbour_moved_pct": share}


class ShadowClass:
    """One more output on a model's classifier (`get_classifier()`, an nn.Linear): a row of weights
    and a bias registered on the classifier, its logit appended by a forward hook; `remove` prunes it."""

    def __init__(self, model: nn.Module):
        head = model.get_classifier()
        if not isinstance(head, nn.Linear):
            raise UnlearnBenchError(f"Boundary Expanding widens a Linear classifier; {type(model).__name__}'s is a "
                                    f"{type(head).__name__}.")
        widened = torch.empty(head.out_features + 1, head.in_features, device=head.weight.device)
        nn.init.xavier_normal_(widened)  # the authors initialise the whole widened head, then copy the old rows
        self.head = head
        head.shadow_weight = nn.Parameter(widened[-1:].clone())
        head.shadow_bias = nn.Parameter(torch.zeros(1, device=head.weight.device))
        self.hook = head.register_forward_hook(self._append)

    @staticmethod
    def _append(module: nn.Linear, inputs, output: torch.Tensor) -> torch.Tensor:
        shadow = F.linear(inputs[0], module.shadow_weight, module.shadow_bias).to(output.dtype)
        return torch.cat([output, shadow], dim=-1)

    def remove(self) -> None:
        self.hook.remove()
        del self.head.shadow_weight, self.head.shadow_bias


class BoundaryExpanding(GradientMethod):
    """The head widened by a shadow class (Xavier-normal row, zero bias), every forget sample labelled
    with it, the whole network trained on that, then the shadow class pruned."""

    name = "boundary_expanding"
    data_used = ("forget",)
    tasks = ("class", "subclass")

    def __init__(self, optimizer, epochs: int = 10, batch_size: int = 64, scheduler=None,
                 clip_grad_norm: float | None = None):
        super().__init__(optimizer, scheduler, clip_grad_norm)
        self.epochs, self.batch_size = epochs, batch_size
        self.shadow: ShadowClass | None = None

    def prepare(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        self.shadow = ShadowClass(model)
        return model

    def phases(self, ctx: UnlearnContext) -> list[Phase]:
        shadow_label = ctx.num_classes

        def loss(model: nn.Module, batch) -> torch.Tensor:
            logits = model(batch[0])
            return F.cross_entropy(logits, torch.full_like(batch[1], shadow_label))

        return [Phase("expand", "forget_set", self.epochs, self.batch_size, loss, train_mode=True)]

    def finish(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        self.shadow.remove()
        return model

    def settings(self) -> dict:
        return {"epochs": self.epochs, "batch_size": self.batch_size}
