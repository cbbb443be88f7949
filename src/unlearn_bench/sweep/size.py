"""How many jobs a sweep runs, so each job's log can say `job i/N`.

The sweep's parent process counts the jobs (`SweepSize`, a Hydra callback) and hands the count to
its jobs through the environment (in-process launchers and Slurm jobs, which inherit it, alike).
"""

from __future__ import annotations

import itertools
import os

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

# config keys that do not change what a run measures (where it wrote, how it logged, the grid guard's
# +confirm): a rerun differing only there skips the finished job, and reuses the grid's folder (sweep.location)
NOT_IDENTITY = ("paths", "logger", "confirm", "trainer.enable_progress_bar")

ENV = "UNLEARN_BENCH_SWEEP_JOBS"


def _sweep_overrides(config: DictConfig) -> dict:
    """The sweep's overrides by key: the sweeper's params, overridden by the command line."""
    parser = OverridesParser.create()
    params = [f"{key}={value}" for key, value in (config.hydra.sweeper.get("params") or {}).items()]
    return {o.get_key_element(): o for o in parser.parse_overrides(params + list(config.hydra.overrides.task))}


def swept_choices(config: DictConfig, key: str) -> list[str] | None:
    """The values `key` (a key or group, e.g. `model`) takes across the sweep; None when the sweep
    leaves it alone or its values cannot be listed here."""
    try:
        override = _sweep_overrides(config).get(key)
    except Exception:  # noqa: BLE001 - a sweeper whose params this parser does not read
        return None
    if override is None or not override.is_sweep_override() or not override.is_discrete_sweep():
        return None
    try:
        values = [str(v) for v in override.sweep_string_iterator()]
    except Exception:  # noqa: BLE001 - a glob or another sweep that needs the config
        return None
    return [_resolved(config, v) for v in values]


def _resolved(config: DictConfig, value: str) -> str:
    """`${a.b}` (an experiment preset's `${scale.models.vit}`) as the config resolves it; else `value`."""
    if value.startswith("${") and value.endswith("}") and value.count("${") == 1:
        found = OmegaConf.select(config, value[2:-1], default=None)
        return str(found) if found is not None else value
    return value


def is_search(config: DictConfig) -> bool:
    """Whether the sweep is a search (Optuna: n_trials), whose trials the study hands out and resumes,
    not a grid of listed jobs."""
    return config.hydra.sweeper.get("n_trials") is not None


def sweep_size(config: DictConfig) -> int | None:
    """The number of jobs of the sweep `config` describes: Optuna's n_trials, or the product of the
    basic sweeper's choices (hydra.sweeper.params, overridden by the command line); None when unknown."""
    if is_search(config):
        return int(config.hydra.sweeper.n_trials)
    by_key = _sweep_overrides(config)
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


def override_key(override: str) -> str:
    """The key an override string sets, without its +, ++ or ~ (`+setting=x` → `setting`)."""
    return override.split("=", 1)[0].lstrip("+~")


def under(key: str, prefixes: tuple[str, ...]) -> bool:
    """Whether `key` is one of `prefixes` or lies below one (`method.alpha` under `method`)."""
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def job_overrides(config: DictConfig, leave_out: tuple[str, ...] = ()) -> list[list[str]] | None:
    """Each job's overrides, in the basic sweeper's order, once per distinct job when the keys under
    `leave_out` are left out (a sweep over them only then: one job); None when a sweep left in is
    not a list of values (an interval, a glob) or the sweep cannot be read here."""
    try:
        by_key = _sweep_overrides(config)
        choices = []
        for key, override in by_key.items():
            if under(override_key(key), leave_out):
                continue
            if not override.is_sweep_override():
                choices.append([f"{key}={override.get_value_element_as_str()}"])
            elif override.is_discrete_sweep():
                choices.append([f"{key}={value}" for value in override.sweep_string_iterator()])
            else:
                return None
    except Exception:  # noqa: BLE001 - a sweeper whose params this parser does not read, a glob
        return None
    return [list(job) for job in itertools.product(*choices)]


def job_label() -> str:
    """`job i/N` of this sweep job (1-based; N when the sweep's parent counted it)."""
    number = int(HydraConfig.get().job.num) + 1
    total = os.environ.get(ENV)
    return f"job {number}/{total}" if total else f"job {number}"
