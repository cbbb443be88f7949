"""Send a results record to the configured experiment trackers (W&B through Lightning)."""

from __future__ import annotations

import shutil
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from unlearn_bench.results import flatten

LOGGED = ("metrics", "gap_to_gold", "timing", "lenses", "lens_columns", "distance_to_gold", "tuning_objective",
          "js_to_gold")


def log_to_trackers(cfg: DictConfig, record: dict, results_path: Path) -> None:
    """Log config and metrics to each logger in cfg.logger; W&B also keeps results.json as a file,
    so that tables can be rebuilt from W&B runs (offline run folders or the W&B API)."""
    for logger_cfg in (cfg.get("logger") or {}).values():
        default_name = "-".join(str(record[k]) for k in ("dataset", "model", "task", "method"))
        logger = instantiate(logger_cfg, name=logger_cfg.get("name") or f"{default_name}-s{record['seed']}")
        try:
            logger.log_hyperparams(record["config"])
            for step in record.get("sequence", []):  # sequential requests: one logged step per request
                logger.log_metrics(flatten({k: step[k] for k in LOGGED if k in step}), step=step["request"])
            logger.log_metrics(flatten({k: record[k] for k in LOGGED if k in record}))
            if _is_wandb(logger):
                _save_copy(logger.experiment, results_path)
        finally:
            _finish(logger)


def _save_copy(run, results_path: Path) -> None:
    """Keep a real copy in the run's files/ folder (a plain save leaves an absolute symlink there
    offline, which breaks once the run folder moves), and upload it now when online."""
    files_dir = Path(getattr(run, "dir", "") or results_path.parent)
    target = files_dir / results_path.name
    if target.resolve() != results_path.resolve():
        shutil.copyfile(results_path, target)
    run.save(str(target), base_path=str(files_dir), policy="now")


def _is_wandb(logger) -> bool:
    return type(logger).__name__ == "WandbLogger"


def _finish(logger) -> None:
    if _is_wandb(logger):
        import wandb

        wandb.finish()
    else:
        logger.finalize("success")
