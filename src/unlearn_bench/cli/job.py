"""What the command line does around one run: refuse bad input, record a sweep job's failure, skip a
sweep job that already finished, and keep an Optuna trial from staying RUNNING."""

from __future__ import annotations

import json
import logging
import math
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from unlearn_bench.cache.files import atomic_write_bytes, stale_temps
from unlearn_bench.cli.interrupts import Interrupted, released
from unlearn_bench.experiment.record import RESULTS_FILE
from unlearn_bench.experiment.rescue import RunRescued
from unlearn_bench.search.trial_states import claim_trial, fail_claimed_trial
from unlearn_bench.sweep.size import NOT_IDENTITY, job_label
from unlearn_bench.utils.errors import UnlearnBenchError, user_error

log = logging.getLogger(__name__)

FAILURE_FILE = "failure.json"


def is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _optuna() -> tuple[str, str] | None:
    """(storage, study) when this job is a trial of the Optuna sweeper."""
    sweeper = HydraConfig.get().sweeper
    if "optuna" not in str(sweeper.get("_target_", "")).lower() or sweeper.get("storage") is None:
        return None
    return str(sweeper.storage), str(sweeper.study_name)


def log_to_file(message: str, level: int = logging.ERROR) -> None:
    """Write `message` to the run's log file(s) only (the console gets its own line)."""
    record = logging.LogRecord("unlearn_bench", level, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _remove_run_folder() -> None:
    """Remove what Hydra wrote for this run (.hydra/, the log); the folder too once it is empty."""
    if not HydraConfig.initialized():
        return
    hydra = HydraConfig.get()
    out = Path(hydra.runtime.output_dir)
    for handler in list(logging.getLogger().handlers):
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == out:
            handler.close()
            logging.getLogger().removeHandler(handler)
            Path(handler.baseFilename).unlink(missing_ok=True)
    if hydra.output_subdir is not None:
        subdir = out / str(hydra.output_subdir)
        for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
            (subdir / name).unlink(missing_ok=True)
        if subdir.is_dir() and not any(subdir.iterdir()):
            subdir.rmdir()
    if out.is_dir() and not any(out.iterdir()):
        shutil.rmtree(out)


def refuse(err: UnlearnBenchError) -> NoReturn:
    """A single run's bad input: one sentence on stderr, exit 2, and no run folder left behind."""
    log_to_file(f"error: {err}")
    print(f"error: {err}", file=sys.stderr)
    _remove_run_folder()
    sys.exit(2)


def _without(config: dict, key: str) -> dict:
    head, _, rest = key.partition(".")
    if head not in config:
        return config
    if not rest:
        return {k: v for k, v in config.items() if k != head}
    inner = config[head]
    return {**config, head: _without(inner, rest) if isinstance(inner, dict) else inner}


def _identity(config: dict) -> str:
    for key in NOT_IDENTITY:
        config = _without(config, key)
    return json.dumps(config, sort_keys=True, default=str)


def finished_record(cfg: DictConfig) -> dict | None:
    """This job's results.json from an earlier, interrupted invocation of the same sweep, if it is
    readable, ours and of exactly this job's configuration."""
    path = Path(cfg.paths.output_dir) / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
            return None
        float(record["distance_to_gold"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    current = json.loads(json.dumps(OmegaConf.to_container(cfg, resolve=True), default=str))
    return record if _identity(record["config"]) == _identity(current) else None


def _objective(record: dict) -> float:
    """The sweep objective: distance to gold on the validation split (never the test split the tables
    report); records without it (sequential requests) fall back to the reported distance."""
    value = record.get("tuning_objective", record.get("distance_to_gold"))
    return math.nan if value is None else float(value)


def _record_failure(cfg: DictConfig, err: Exception) -> str:
    cause = user_error(err)
    reason = str(cause) if cause is not None else f"{type(err).__name__}: {err}"
    if cause is not None:
        log.error("error: %s", reason)
    else:
        log.exception("The job failed: %s", reason)
    failure = {"job": HydraConfig.get().job.num, "overrides": list(HydraConfig.get().overrides.task),
               "error": reason, "user_error": cause is not None}
    try:
        atomic_write_bytes(Path(cfg.paths.output_dir) / FAILURE_FILE, json.dumps(failure, indent=2).encode())
    except OSError as write_err:
        log.warning("Could not record the failure in %s (%s).", write_err.filename, write_err.strerror)
    return reason


def sweep_job(cfg: DictConfig, run: Callable[[DictConfig], dict]) -> float:
    """One job of a sweep. A finished job (verified results) is skipped; a failing one is recorded
    (failure.json, the log) and the sweep goes on; an Optuna trial ends FAIL, never RUNNING."""
    log.info("Sweep %s: %s", job_label(), " ".join(HydraConfig.get().overrides.task))
    out = Path(cfg.paths.output_dir)
    (out / FAILURE_FILE).unlink(missing_ok=True)
    for tmp in stale_temps(out / RESULTS_FILE):  # left by a kill of an earlier invocation
        tmp.unlink(missing_ok=True)
    done = finished_record(cfg)
    if done is not None:
        log.info("This job finished in an earlier invocation (%s): skipping it.", out)
        return _objective(done)
    study = _optuna()
    overrides = list(HydraConfig.get().overrides.task)
    if study is not None:
        claim_trial(*study, overrides)
    try:
        with released():
            return _objective(run(cfg))
    except Interrupted:
        if study is not None:
            fail_claimed_trial(*study, overrides)
        raise
    except Exception as err:  # noqa: BLE001 - reported and recorded; the sweep goes on
        _record_failure(cfg, err)
        if study is not None:
            raise  # the Optuna sweeper marks the trial FAIL and, with max_failure_rate=1, goes on
        return math.nan


def single_run(cfg: DictConfig, run: Callable[[DictConfig], dict]) -> float:
    for tmp in stale_temps(Path(cfg.paths.output_dir) / RESULTS_FILE):  # a reused run folder's killed write
        tmp.unlink(missing_ok=True)
    try:
        return _objective(run(cfg))
    except Exception as err:
        cause = user_error(err)
        if cause is None:
            raise
        if isinstance(cause, RunRescued):
            log_to_file(f"error: {cause}")
            print(f"error: {cause}", file=sys.stderr)
            sys.exit(cause.exit_code)
        refuse(cause)
