"""One experiment from its config: checks, then a single request or a sequence of them."""

from __future__ import annotations

from omegaconf import DictConfig

from unlearn_bench.experiment.protocol import check_protocol
from unlearn_bench.experiment.record import architecture
from unlearn_bench.experiment.sequential import run_sequence
from unlearn_bench.experiment.setup import build_method
from unlearn_bench.experiment.single import run_one
from unlearn_bench.experiment.validation import validate_config
from unlearn_bench.metrics.lenses import lens_configs
from unlearn_bench.tracking import open_tracker
from unlearn_bench.utils.cpu import apply_threads
from unlearn_bench.utils.errors import build


def run(cfg: DictConfig) -> dict:
    """Run one experiment described by `cfg`; write and return its results record."""
    validate_config(cfg)
    apply_threads(cfg.trainer.get("num_threads"))
    task = build(cfg.task)
    check_protocol(cfg.protocol.name)
    lens_configs(cfg.get("lenses"))  # a bad lenses.* value fails now, not after training
    method = build_method(cfg, task.name)
    with open_tracker(cfg, method.name, architecture(cfg.model)) as tracker:
        if getattr(task, "requests", 1) > 1:
            return run_sequence(cfg, task, tracker)
        return run_one(cfg, task, method, tracker)
