"""A hand-made model, hand-made data and a context with scripted batches, for the reference tests
(tests/test_reference_steps.py): every loader yields its dataset's samples in order, so a test can
rebuild each method's batches and replay the authors' loop on them."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import Dataset

from unlearn_bench.importance import ImportanceStore
from unlearn_bench.methods.base import UnlearnContext

CLASSES = 3
TRAINER = {"accelerator": "cpu", "devices": 1, "strategy": "auto", "precision": "32-true",
           "enable_progress_bar": False}
FORGET_X = [[1.0, 0.5], [0.8, -0.2], [1.2, 0.1]]
RETAIN_X = [[-1.0, 0.3], [0.2, 1.1], [-0.4, -0.9], [0.5, 0.7], [-0.6, 0.2], [0.1, -1.3]]
RETAIN_Y = [1, 2, 1, 2, 1, 2]


class Tiny(nn.Module):
    """Linear → BatchNorm → ReLU → Linear head: train and eval mode give different outputs."""

    def __init__(self, classes: int = CLASSES):
        super().__init__()
        self.body = nn.Linear(2, 4)
        self.norm = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.norm(self.body(x))))

    def get_classifier(self) -> nn.Module:
        return self.head


def original(seed: int = 0) -> Tiny:
    torch.manual_seed(seed)
    model = Tiny()
    with torch.no_grad():  # running statistics unlike any batch's, so eval mode shows
        model.norm.running_mean.copy_(torch.tensor([0.3, -0.2, 0.1, 0.4]))
        model.norm.running_var.copy_(torch.tensor([1.5, 0.7, 2.0, 0.9]))
    return model


class Samples(Dataset):
    """(x, y) pairs with a `labels` array (what dataset_labels reads through indexing)."""

    def __init__(self, x, y):
        self.x = torch.tensor(x, dtype=torch.float32)
        self.y = torch.tensor(y, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], int(self.y[i])


def forget_set() -> Samples:
    return Samples(FORGET_X, [0, 0, 0])


def retain_set() -> Samples:
    return Samples(RETAIN_X, RETAIN_Y)


def val_set() -> Samples:
    return Samples([[0.9, 0.4], [-0.8, 0.1], [0.3, 0.9], [0.7, -0.1]], [0, 1, 2, 0])


def batches(dataset: Dataset, batch_size: int) -> list[list[torch.Tensor]]:
    """`dataset` in order, `batch_size` samples a batch, each column stacked."""
    out = []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        columns = list(zip(*items, strict=True))
        out.append([torch.stack(c) if torch.is_tensor(c[0]) else torch.tensor(c) for c in columns])
    return out


class InOrder:
    def __init__(self, dataset: Dataset, batch_size: int):
        self.dataset, self.batch_size = dataset, batch_size

    def __iter__(self):
        return iter(batches(self.dataset, self.batch_size))

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)


@dataclass(repr=False)
class ScriptedContext(UnlearnContext):
    """Every loader in dataset order (no shuffling); `calls` records (size, shuffle, batch_size)."""

    calls: list = None

    def loader(self, dataset: Dataset, shuffle: bool = False, batch_size: int | None = None):
        size = batch_size or self.batch_size
        self.calls.append((len(dataset), shuffle, size))
        return InOrder(dataset, size)


def context(task: str = "class", seed: int = 0, **changes) -> ScriptedContext:
    forget, retain = forget_set(), retain_set()
    fields = dict(
        original=original(seed), forget_set=forget, retain_set=retain, train_set=retain,
        split=SimpleNamespace(task=task), num_classes=CLASSES, device=torch.device("cpu"), seed=seed,
        build_model=Tiny, importance_store=ImportanceStore("/nonexistent"), importance_material={},
        retain_train_set=retain, val_set=val_set(), retain_targets=np.asarray(RETAIN_Y),
        trainer_cfg=OmegaConf.create(TRAINER), task=task, forget_classes=(0,) if task != "random" else (),
        forget_labels=(0,) if task != "random" else (), calls=[],
    )
    fields.update(changes)
    return ScriptedContext(**fields)


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers (BatchNorm's running statistics included)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(actual: nn.Module, expected: nn.Module, atol: float = 1e-6) -> None:
    a, e = state(actual), state(expected)
    assert a.keys() == e.keys()
    for key in a:
        assert torch.allclose(a[key].float(), e[key].float(), atol=atol, rtol=0), (
            f"{key}: max |diff| {float((a[key].float() - e[key].float()).abs().max()):.3g}")
