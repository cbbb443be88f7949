"""Accuracies and MIA of one model, from one batched forward pass per evaluated split."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import Dataset

from unlearn_bench.cache.tensor_file import non_finite_count
from unlearn_bench.data.batches import make_loader
from unlearn_bench.metrics.mia import entropy, mia_score
from unlearn_bench.utils.precision import method_autocast, trainer_setting

SPLITS = ("retain_train", "forget_train", "retain_test", "forget_test")
# held-out validation samples (never trained on; the models' epoch selection only): a search tunes on
# these, never on the test split the tables report
VAL_SPLITS = ("val_retain", "val_forget")


@torch.no_grad()
def predict(model: nn.Module, dataset: Dataset, device: torch.device, batch_size: int = 256,
            num_workers: int = 0, trainer_cfg=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels of a whole dataset, model in eval mode (forward in `trainer.precision`)."""
    model = model.to(device).eval()
    logits, labels = [], []
    channels_last = bool(trainer_setting(trainer_cfg, "channels_last", False))
    for x, y in make_loader(dataset, device, batch_size, num_workers=num_workers, channels_last=channels_last):
        with method_autocast(trainer_cfg, device):
            logits.append(model(x.to(device)).float().cpu())
        labels.append(y.cpu())
    if not logits:
        return torch.empty(0, 0), torch.empty(0, dtype=torch.long)
    return torch.cat(logits), torch.cat(labels)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Sample-weighted accuracy in %; NaN for an empty split. A sample whose logits are not all
    finite (a diverged model) counts as misclassified."""
    if len(labels) == 0:
        return math.nan
    correct = (logits.argmax(1) == labels) & torch.isfinite(logits).all(1)
    return float(correct.double().mean() * 100.0)


def metrics_from_outputs(outputs: dict[str, tuple[torch.Tensor, torch.Tensor]],
                         mia_C: float = 1.0) -> dict[str, float]:
    """All the paper's numbers from the logits of the four splits."""
    out = {f"{split}_acc": accuracy(*outputs[split]) for split in SPLITS}
    test_logits = [outputs[s][0] for s in ("retain_test", "forget_test") if len(outputs[s][1])]
    test_labels = [outputs[s][1] for s in ("retain_test", "forget_test") if len(outputs[s][1])]
    out["test_acc"] = accuracy(torch.cat(test_logits), torch.cat(test_labels))
    out["mia"] = mia_score(
        entropy(outputs["retain_train"][0]).numpy(),
        entropy(torch.cat(test_logits)).numpy(),
        entropy(outputs["forget_train"][0]).numpy() if len(outputs["forget_train"][1]) else [],
        C=mia_C,
    )
    if all(split in outputs for split in VAL_SPLITS):
        out.update(validation_metrics(outputs, mia_C))
    return out


def validation_metrics(outputs: dict[str, tuple[torch.Tensor, torch.Tensor]], mia_C: float = 1.0) -> dict[str, float]:
    """Accuracies on the validation split and the MIA with validation samples as its non-members."""
    val_logits = torch.cat([outputs[s][0] for s in VAL_SPLITS if len(outputs[s][1])])
    return {
        "val_retain_acc": accuracy(*outputs["val_retain"]),
        "val_forget_acc": accuracy(*outputs["val_forget"]),
        "val_mia": mia_score(
            entropy(outputs["retain_train"][0]).numpy(), entropy(val_logits).numpy(),
            entropy(outputs["forget_train"][0]).numpy() if len(outputs["forget_train"][1]) else [],
            C=mia_C,
        ),
    }


def model_outputs(model: nn.Module, sets: dict[str, Dataset], device: torch.device, batch_size: int = 256,
                  num_workers: int = 0, trainer_cfg=None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(logits, labels) of every evaluated split present in `sets`: the one forward pass per split that
    the metrics and the lenses both read."""
    return {split: predict(model, sets[split], device, batch_size, num_workers, trainer_cfg)
            for split in (*SPLITS, *VAL_SPLITS) if split in sets}


def evaluate(model: nn.Module, sets: dict[str, Dataset], device: torch.device,
             batch_size: int = 256, num_workers: int = 0, trainer_cfg=None, mia_C: float = 1.0) -> dict[str, float]:
    return metrics_from_outputs(model_outputs(model, sets, device, batch_size, num_workers, trainer_cfg), mia_C)


CHANCE_MARGIN = 1.2  # test accuracy up to 1.2 × chance (12 % with 10 classes) counts as chance


# the phrases of the two warnings about an unlearned model; the report finds them in results.json
DIVERGED = "the method diverged"
DESTROYED = "the method destroyed the model"


def chance_level_warning(test_acc: float | None, num_classes: int) -> str | None:
    """A warning when a model's test accuracy is at chance level (a method that destroyed the model
    rather than unlearning), else None."""
    chance = 100.0 / num_classes
    if test_acc is None or math.isnan(test_acc) or test_acc > CHANCE_MARGIN * chance:
        return None
    return (f"the unlearned model's test accuracy is {test_acc:.2f} %, chance level with {num_classes} "
            f"classes ({chance:.2f} %): {DESTROYED} rather than unlearning the request.")


def non_finite_warning(model: nn.Module) -> str | None:
    """A warning when a model's weights or buffers hold NaN or infinite values (a diverged method)."""
    bad, total = non_finite_count(model.state_dict())
    if not bad:
        return None
    return (f"the unlearned model has non-finite weights ({bad} of {total} tensors): {DIVERGED}; "
            "its accuracies count non-finite outputs as wrong and its MIA is undefined (NaN).")


def unlearned_model_warnings(metrics: dict[str, float], num_classes: int, model: nn.Module | None = None) -> list[str]:
    """What a run warns about its unlearned model, from that model's metrics and weights (`results.json`'s
    `warnings`)."""
    found = [non_finite_warning(model) if model is not None else None,
             chance_level_warning(metrics["test_acc"], num_classes)]
    return [w for w in found if w]


def paper_columns(metrics: dict[str, float], task: str) -> dict[str, float]:
    """The tables' Dr and Df: test-side for class and sub-class tasks; for random forgetting Dr is
    the full test split and Df the forget training samples (as in the official code)."""
    if task == "random":
        return {"Dr": metrics["test_acc"], "Df": metrics["forget_train_acc"], "MIA": metrics["mia"]}
    return {"Dr": metrics["retain_test_acc"], "Df": metrics["forget_test_acc"], "MIA": metrics["mia"]}


def tuning_columns(metrics: dict[str, float], task: str) -> dict[str, float]:
    """The columns a hyperparameter search compares with the gold model: paper_columns' on the
    validation split instead of the test split. Df of random forgetting is the forget set's own
    accuracy either way (the request's samples have no held-out counterpart)."""
    df = metrics["forget_train_acc"] if task == "random" else metrics["val_forget_acc"]
    return {"Dr": metrics["val_retain_acc"], "Df": df, "MIA": metrics["val_mia"]}
