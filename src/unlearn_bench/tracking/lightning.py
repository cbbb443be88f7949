"""The run's trackers as one Lightning logger for the trainers of the original and gold models:
their curves land in the run under `original/...` and `gold/...`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from unlearn_bench.tracking.guard import guarded


class RunLogger(Logger):
    """Forwards metrics to each of `loggers` with keys `prefix/key`; a failing logger is a warning.
    Hyperparameters and finalize are left to the run (the trainers come and go, the run stays)."""

    def __init__(self, loggers: Sequence[Logger], prefix: str = ""):
        super().__init__()
        self.loggers = list(loggers)
        self.prefix = prefix

    def for_role(self, role: str) -> RunLogger:
        return RunLogger(self.loggers, f"{self.prefix}{role}/")

    @property
    def name(self) -> str:
        return "unlearn_bench"

    @property
    def version(self) -> str:
        return self.prefix.rstrip("/") or "run"

    @property
    def save_dir(self) -> str | None:
        return self.loggers[0].save_dir if self.loggers else None

    @property
    def experiment(self):
        return self.loggers[0].experiment if self.loggers else None

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        named = {f"{self.prefix}{k}": v for k, v in metrics.items()}
        for logger in self.loggers:
            with guarded(f"logging metrics to {type(logger).__name__}"):
                logger.log_metrics(named, step)

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass


def for_role(logger: Logger | None, role: str) -> Logger | None:
    """`logger` (any Lightning logger) seen by the trainer of `role`; None stays None."""
    if logger is None:
        return None
    return logger.for_role(role) if isinstance(logger, RunLogger) else RunLogger([logger], f"{role}/")


def log_model_source(logger: Logger | None, role: str, info: Mapping) -> None:
    """Whether the `role` model was trained in this run or read (model store, checkpoint): a read
    model has no curves here, its training facts come from the store."""
    if logger is None:
        return
    trained = not info.get("cache_hit", False)
    facts = {"cached": float(not trained), "trained": float(trained)}
    facts.update({k: float(info[k]) for k in ("train_s", "best_val_acc", "best_epoch") if info.get(k) is not None})
    for_role(logger, role).log_metrics(facts)
