"""Hydra callbacks of the Optuna search (conf/hparams_search/): a resumable study whose best
parameters end up as a reusable config."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

from unlearn_bench.tuning import best_trial, count_done_trials, sqlite_path, write_tuned_config

log = logging.getLogger(__name__)


class OptunaStudy(Callback):
    """Before the sweep: create the SQLite folder, and treat hydra.sweeper.n_trials as the study's
    total, so a rerun after an interruption runs only the missing trials (with a sampler seed shifted
    by the trials already done, so random start-up trials do not repeat). After the sweep: write the
    best parameters as a config under config_dir (default: the primary config folder, conf/)."""

    def __init__(self, method: str, config_dir: str | None = None):
        self.method, self.config_dir = method, config_dir

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        sweeper = config.hydra.sweeper
        storage, study = str(sweeper.storage), str(sweeper.study_name)
        db = sqlite_path(storage)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        done = count_done_trials(storage, study)
        if not done:
            return
        remaining = max(0, int(sweeper.n_trials) - done)
        log.info("Resuming Optuna study %s: %d of %d trials done, %d to run.", study, done,
                 sweeper.n_trials, remaining)
        with read_write(config.hydra), open_dict(config.hydra):
            sweeper.n_trials = remaining
            if sweeper.get("sampler") is not None and sweeper.sampler.get("seed") is not None:
                sweeper.sampler.seed = int(sweeper.sampler.seed) + done
        if remaining == 0:  # the sweeper still writes optimization_results.yaml into the sweep dir
            Path(config.hydra.sweep.dir).mkdir(parents=True, exist_ok=True)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        try:
            best = best_trial(str(config.hydra.sweeper.storage), str(config.hydra.sweeper.study_name))
        except ValueError as err:
            log.warning("No best parameters to write: %s", err)
            return
        path = write_tuned_config(best, self.config_dir or _primary_config_dir(config), self.method)
        print(f"Best {best.params} (validation distance to gold, tuning_objective, {best.value:.3f}) written to {path}")


def _primary_config_dir(config: DictConfig) -> str:
    for source in config.hydra.runtime.config_sources:
        if source.provider == "main" and source.schema == "file":
            return source.path
    return "conf"
