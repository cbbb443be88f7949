"""A tiny, real unlearning context for method tests: 600 digits, a width-8 CNN trained for 4 epochs
in a plain loop (no Lightning, about a second; ~98 % on the forget class, so forgetting shows),
forget class 3 or 30 random samples. `from method_context import build_context`; a method gets
`context.for_method(method)`, as in the pipeline."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn

from unlearn_bench.bench.fisher_vs_ssd import train
from unlearn_bench.data.base import ImageDataset
from unlearn_bench.data.digits import load_digits
from unlearn_bench.data.forget import ClassTask, RandomTask
from unlearn_bench.data.prepare import prepare
from unlearn_bench.data.transforms import TransformSpec
from unlearn_bench.experiment.setup import forget_labels
from unlearn_bench.importance import ImportanceStore
from unlearn_bench.methods.base import UnlearnContext
from unlearn_bench.models.cnn import SmallCNN

TRAINER = {"accelerator": "cpu", "devices": 1, "strategy": "auto", "precision": "32-true",
           "enable_progress_bar": False}


def build_model(width: int = 8) -> nn.Module:
    return SmallCNN(in_channels=1, num_classes=10, width=width)


def fit(model: nn.Module, dataset: ImageDataset, epochs: int = 4, seed: int = 0) -> nn.Module:
    """Plain full-data SGD on pre-stacked tensors: fast and deterministic."""
    return train(model, dataset, epochs=epochs, seed=seed, batch_size=32)


def accuracy(model: nn.Module, dataset: ImageDataset) -> float:
    x = torch.stack([dataset[i][0] for i in range(len(dataset))])
    with torch.no_grad():
        return float((model.eval()(x).argmax(1) == dataset.split.targets).float().mean() * 100)


def build_context(root: Path, task: str = "class", seed: int = 0) -> UnlearnContext:
    data = prepare(load_digits(), train_subset=600, test_subset=200, val_fraction=0.1, seed=0)
    split = (ClassTask(forget="3") if task == "class" else RandomTask(n_forget=30, seed=0)).split(data)
    spec = TransformSpec((0.305,), (0.376,))

    def dataset(which: str, idx=None) -> ImageDataset:
        part = getattr(data, which)
        return ImageDataset(part if idx is None else part.subset(idx), spec=spec)

    torch.manual_seed(seed)
    original = fit(build_model(), dataset("train"), seed=seed)
    return UnlearnContext(
        original=original,
        forget_set=dataset("train", split.forget_idx),
        retain_set=dataset("train", split.retain_idx),
        train_set=dataset("train"),
        split=split,
        num_classes=10,
        device=torch.device("cpu"),
        seed=seed,
        build_model=build_model,
        importance_store=ImportanceStore(root / "importance"),
        importance_material={"original": "method-tests", "task": task},
        val_set=dataset("val", split.val_retain_idx),
        forget_train_set=dataset("train", split.forget_idx),
        retain_train_set=dataset("train", split.retain_idx),
        retain_targets=data.train.targets.numpy()[split.retain_idx],
        trainer_cfg=OmegaConf.create(TRAINER),
        task=split.task,
        forget_classes=split.forget_classes,
        forget_labels=forget_labels(split, data.train.targets),
    )
