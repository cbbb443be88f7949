"""The experiment trackers of one run (`cfg.logger`), open from the start of the run to its end."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

from unlearn_bench.experiment.record import RESULTS_FILE
from unlearn_bench.tracking import summary
from unlearn_bench.tracking.artifacts import ArtifactSettings, log_artifacts, run_files
from unlearn_bench.tracking.guard import guarded
from unlearn_bench.tracking.lightning import RunLogger
from unlearn_bench.tracking.naming import Launch, run_names

TABLE_KEY = "results_table"


@dataclass
class Tracker:
    key: str  # its name under cfg.logger
    logger: Logger
    artifacts: ArtifactSettings
    is_wandb: bool


class RunTracker:
    """Opens every configured logger now (a W&B run starts here, so its runtime and system metrics
    cover the whole job), gives the trainers `self.logger`, sends the results at the end. Any tracker
    failure is a warning: the run and its results.json never depend on a tracker."""

    def __init__(self, cfg: DictConfig, method: str, architecture: str):
        self.trackers: list[Tracker] = []
        self.logger: RunLogger | None = None
        loggers = cfg.get("logger") or {}
        if not loggers:
            return
        with guarded("naming the run"):
            self.names = run_names(cfg, method, architecture, Launch.from_hydra())
            container = OmegaConf.to_container(cfg, resolve=True)
            # config.method: the method's name (what a dashboard filters on); its settings: method_config
            self.config = {**container, "method": method, "method_config": container.get("method")}
            for key, node in loggers.items():
                with guarded(f"opening logger.{key}"):
                    self.trackers.append(self._open(key, OmegaConf.to_container(node, resolve=True)))
        if self.trackers:
            self.logger = RunLogger([t.logger for t in self.trackers])

    def _open(self, key: str, args: dict) -> Tracker:
        artifacts = ArtifactSettings.from_config(args.pop("artifacts", None))
        is_wandb = str(args.get("_target_", "")).rsplit(".", 1)[-1] == "WandbLogger"
        if args.get("name", "") is None:
            args["name"] = self.names.name
        if is_wandb:
            for field in ("group", "job_type"):
                if args.get(field) is None:
                    args[field] = getattr(self.names, field)
            args["tags"] = list(dict.fromkeys([*self.names.tags, *(args.get("tags") or [])]))
        logger = instantiate(args)
        if is_wandb:
            logger.experiment.config.update(self.config)  # wandb.init now, not at the first logged value
        else:
            logger.log_hyperparams(self.config)
        return Tracker(key, logger, artifacts, is_wandb)

    def log_results(self, record: dict, results_path: Path) -> None:
        """Every result (flat), the report's table row and the run's files; results.json is already
        written, whatever happens here."""
        for tracker in self.trackers:
            with guarded(f"logging results to logger.{tracker.key}"):
                if tracker.is_wandb:
                    self._wandb_results(tracker, record, Path(results_path))
                    continue
                for step in record.get("sequence", []):  # sequential requests: one step per request
                    tracker.logger.log_metrics(summary.numbers(_logged(step, "sequence/")), step=step["request"])
                tracker.logger.log_metrics(summary.numbers(summary.summary_values(record)))

    def _wandb_results(self, tracker: Tracker, record: dict, results_path: Path) -> None:
        import wandb

        run = tracker.logger.experiment
        if getattr(run, "disabled", False):  # WANDB_MODE=disabled: nothing to send, no folder to save in
            return
        with guarded("W&B: logging the sequential requests"):
            for step in record.get("sequence", []):
                run.log({"sequence/request": step["request"], **summary.numbers(_logged(step, "sequence/"))})
        with guarded("W&B: writing the run summary"):
            run.summary.update(summary.summary_values(record))
        with guarded("W&B: logging the results table"):
            row = summary.table_row(record, self.names.name)
            run.log({TABLE_KEY: wandb.Table(columns=list(summary.TABLE_COLUMNS), data=[row])})
        with guarded("W&B: saving results.json in the run"):
            _save_copy(run, results_path)
        log_artifacts(run, run_files(record, results_path, tracker.artifacts), self.names.name)

    def close(self, failed: bool) -> None:
        for tracker in self.trackers:
            with guarded(f"closing logger.{tracker.key}"):
                if tracker.is_wandb:
                    tracker.logger.experiment.finish(exit_code=1 if failed else 0)
                else:
                    tracker.logger.finalize("failed" if failed else "success")


@contextmanager
def open_tracker(cfg: DictConfig, method: str, architecture: str):
    """The run's RunTracker; closed at the end, marked failed if the run raised."""
    tracker = RunTracker(cfg, method, architecture)
    failed = True
    try:
        yield tracker
        failed = False
    finally:
        tracker.close(failed)


def _logged(part: dict, prefix: str) -> dict:
    return summary.flat_values({key: part[key] for key in summary.LOGGED if key in part}, prefix)


def _save_copy(run, results_path: Path) -> None:
    """A real copy in the run's files/ folder (a plain save leaves an absolute symlink there offline,
    which breaks once the run folder moves), uploaded now when online: the report reads it back."""
    files_dir = Path(getattr(run, "dir", "") or results_path.parent)
    target = files_dir / RESULTS_FILE
    if target.resolve() != results_path.resolve():
        shutil.copyfile(results_path, target)
    run.save(str(target), base_path=str(files_dir), policy="now")
