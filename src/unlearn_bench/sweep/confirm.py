"""Grids that cannot start by accident: a multirun larger than a threshold, or a grid that trains
the paper's models (ResNet18, ViT-B/16) at scale=paper on a machine without a GPU, waits for `+confirm=true` (or UNLEARN_BENCH_CONFIRM_GRIDS=1
in the environment, for scripts that start such grids on purpose) and otherwise exits 2 before any
job runs."""

from __future__ import annotations

import os

from omegaconf import DictConfig

CONFIRM_ENV = "UNLEARN_BENCH_CONFIRM_GRIDS"
# the paper's models: hours to days per job on a CPU at the paper's recipe (the stand-ins take minutes)
PAPER_MODELS = ("resnet18", "vit")


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def start_refusal(config: DictConfig, jobs: int | None, confirm_above: int, has_gpu=_has_gpu,
                  models: list[str] | None = None) -> str | None:
    """The sentence that stops this grid before it starts, or None when it may start. `models`: the
    grid's model choices (None: the composed config's model only)."""
    if config.get("confirm") or os.environ.get(CONFIRM_ENV) == "1":
        return None
    models = models or [str(config.get("model", {}).get("name"))]
    paper_models = [m for m in models if m in PAPER_MODELS]
    paper_on_cpu = str(config.get("scale", {}).get("name")) == "paper" and bool(paper_models) and not has_gpu()
    too_many = jobs is not None and jobs > confirm_above
    if not (paper_on_cpu or too_many):
        return None
    size = f"{jobs} job{'' if jobs == 1 else 's'}" if jobs is not None else "a grid"
    if paper_on_cpu:
        why = (f"this multirun starts {size} training {' and '.join(paper_models)} at scale=paper (the paper's "
               "recipe: hours to days per job) on a machine without a GPU")
    else:
        why = f"this multirun starts {jobs} jobs (more than {confirm_above})"
    return (f"{why}; add +confirm=true to start it anyway, or make it smaller (scale=cpu or scale=smoke, "
            "fewer values per key).")
