"""Hydra callbacks of the Optuna search (conf/hparams_search/): a resumable study whose best
parameters end up as a reusable config."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

from unlearn_bench.cli import interrupts
from unlearn_bench.cli.job import FAILURE_FILE
from unlearn_bench.search.trial_states import fail_orphaned_trials, start_search
from unlearn_bench.search.tuned_config import best_trial, count_done_trials, write_tuned_config
from unlearn_bench.sweep.confirm import start_refusal
from unlearn_bench.sweep.location import SweepLock
from unlearn_bench.sweep.preview import describe
from unlearn_bench.sweep.size import ENV, is_search, sweep_size, swept_choices

log = logging.getLogger(__name__)


def _jobs_run_here(config: DictConfig) -> bool:
    """Whether the sweep's jobs run in this process (Hydra's basic launcher), not in others (submitit)."""
    return str(config.hydra.launcher.get("_target_", "")).endswith(".BasicLauncher")


class OptunaStudy(Callback):
    """Before the sweep: create the SQLite folder, mark FAIL the trials whose process was killed, and
    treat hydra.sweeper.n_trials as the study's total, so a rerun after an interruption runs only the
    missing trials. The sampler seed is shifted by the trials already done and by the searches started
    on the study before, so neither a resumed search nor one running in parallel repeats random
    start-up trials. After the sweep: write the best parameters as a config under config_dir (default:
    $UNLEARN_BENCH_ROOT/conf, the user's config folder every run searches)."""

    def __init__(self, method: str, config_dir: str | None = None):
        self.method, self.config_dir = method, config_dir

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        if _jobs_run_here(config):
            interrupts.hold()  # a signal between trials is raised when the next trial starts (job.sweep_job)
        try:
            self._prepare(config)
        except Exception as err:  # noqa: BLE001 - Hydra would only warn and run the search unprepared
            print(f"error: could not prepare the Optuna study ({type(err).__name__}: {err}); nothing was run.",
                  file=sys.stderr)
            sys.exit(1)

    def _prepare(self, config: DictConfig) -> None:
        sweeper = config.hydra.sweeper
        storage, study = str(sweeper.storage), str(sweeper.study_name)
        direction = sweeper.direction
        earlier = start_search(storage, study, direction if isinstance(direction, str) else list(direction))
        fail_orphaned_trials(storage, study)
        done = count_done_trials(storage, study)
        total = int(sweeper.n_trials)
        remaining = max(0, total - done)
        with read_write(config.hydra), open_dict(config.hydra):
            if sweeper.get("sampler") is not None and sweeper.sampler.get("seed") is not None:
                sweeper.sampler.seed = int(sweeper.sampler.seed) + done + earlier
            if not done:
                return
            sweeper.n_trials = remaining
        log.info("Resuming Optuna study %s: %d of %d trials done, %d to run.", study, done, total, remaining)
        if remaining == 0:  # the sweeper still writes optimization_results.yaml into the sweep dir
            Path(config.hydra.sweep.dir).mkdir(parents=True, exist_ok=True)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        try:
            best = best_trial(str(config.hydra.sweeper.storage), str(config.hydra.sweeper.study_name))
        except ValueError as err:
            log.warning("No best parameters to write: %s", err)
            return
        path = write_tuned_config(best, self.config_dir or str(Path(config.paths.root_dir) / "conf"), self.method)
        print(f"Best {best.params} (validation distance to gold, tuning_objective, {best.value:.3f}) written to {path}")


class SweepSummary(Callback):
    """After a sweep or search: when jobs failed, one line per failed job (its overrides and why),
    then exit 1. The other jobs ran and kept their results."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        lines = failure_summary(Path(config.hydra.sweep.dir))
        if lines:
            print("\n".join(lines), file=sys.stderr)
            sys.exit(1)


def failure_summary(sweep: Path) -> list[str]:
    """The sweep's failure summary (a header, then one line per failed job), or [] when none failed."""
    failures = []
    for path in sorted(sweep.rglob(FAILURE_FILE)):
        try:
            failures.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            failures.append({"job": path.parent.name, "overrides": [], "error": f"see {path}"})
    if not failures:
        return []
    jobs = sum(1 for p in sweep.iterdir() if (p / ".hydra").is_dir()) if sweep.is_dir() else len(failures)
    if len(failures) >= jobs:
        lines = [f"error: all {len(failures)} jobs failed (logs in {sweep}):"]
    else:
        lines = [f"error: {len(failures)} of {jobs} jobs failed (the others ran and kept their results; logs "
                 f"in {sweep}):"]
    lines += [f"  job {f.get('job')} ({' '.join(f.get('overrides', []))}): {f.get('error')}" for f in failures]
    return lines


class SweepSize(Callback):
    """Before a sweep: count its jobs, so that each job logs `job i/N` (sweep_size.job_label), and stop
    a grid that needs confirming (grid_guard) before any job runs."""

    def __init__(self, confirm_above: int = 100):
        self.confirm_above = int(confirm_above)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        total = sweep_size(config)
        refused = start_refusal(config, total, self.confirm_above, models=swept_choices(config, "model"))
        if refused is not None:
            print(f"error: {refused}", file=sys.stderr)
            sys.exit(2)
        if total is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = str(total)


class SweepPlan(Callback):
    """Before a sweep: one block with its jobs, its folder, the models they train (in the model store
    or to train) and a rough time from the store's records (sweep_preview)."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        from hydra.core.global_hydra import GlobalHydra

        try:
            loader = GlobalHydra.instance().config_loader()
            log.info(describe(config, lambda overrides: loader.load_sweep_config(config, overrides)))
        except Exception as err:  # noqa: BLE001 - the preview never stops a grid; Hydra reports bad configs itself
            log.warning("No preview of this sweep (%s: %s).", type(err).__name__, err)


class SweepFolderLock(Callback):
    """While a grid runs, its parent holds a lock on the sweep folder: a second invocation of the
    same grid (the same folder, sweep_folder.py) exits 2 before any job runs. Not for a search, whose
    parallel invocations share their study (and may share a folder) on purpose."""

    def __init__(self):
        self.lock: SweepLock | None = None

    def __getstate__(self) -> dict:
        return {"lock": None}  # submitit pickles the callbacks with its jobs: the lock stays with this process

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        if is_search(config):
            return
        folder = str(config.hydra.sweep.dir)
        lock = SweepLock(folder)
        try:
            taken = lock.take()
        except OSError:  # a folder that cannot be written: Hydra's own error follows
            return
        if not taken:
            print(f"error: another invocation is running this sweep in {folder} (it holds {lock.path}); wait for "
                  "it to end, or give this one its own folder with hydra.sweep.dir=PATH.", file=sys.stderr)
            sys.exit(2)
        self.lock = lock

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if self.lock is not None:
            self.lock.release()
