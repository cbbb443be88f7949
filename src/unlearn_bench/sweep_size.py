"""How many jobs a sweep runs, so each job's log can say `job i/N`.

The sweep's parent process counts the jobs (`SweepSize`, a Hydra callback) and hands the count to
its jobs through the environment (in-process launchers and Slurm jobs, which inherit it, alike).
"""

from __future__ import annotations

import os

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

ENV = "UNLEARN_BENCH_SWEEP_JOBS"


def sweep_size(config: DictConfig) -> int | None:
    """The number of jobs of the sweep `config` describes: Optuna's n_trials, or the product of the
    basic sweeper's choices (hydra.sweeper.params, overridden by the command line); None when unknown."""
    sweeper = config.hydra.sweeper
    if sweeper.get("n_trials") is not None:
        return int(sweeper.n_trials)
    parser = OverridesParser.create()
    params = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
    by_key = {o.get_key_element(): o for o in parser.parse_overrides(params + list(config.hydra.overrides.task))}
    total = 1
    for override in by_key.values():
        if not override.is_sweep_override():
            continue
        if not override.is_discrete_sweep():
            return None
        try:
            total *= len(list(override.sweep_string_iterator()))
        except Exception:  # noqa: BLE001 - a glob or another sweep that needs the config: size unknown
            return None
    return total


def job_label() -> str:
    """`job i/N` of this sweep job (1-based; N when the sweep's parent counted it)."""
    number = int(HydraConfig.get().job.num) + 1
    total = os.environ.get(ENV)
    return f"job {number}/{total}" if total else f"job {number}"
