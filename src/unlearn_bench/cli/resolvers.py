"""OmegaConf resolvers the configs use; imported before Hydra composes a config."""

from __future__ import annotations

import os
import secrets

from omegaconf import OmegaConf

from unlearn_bench.cli import experiment_targets
from unlearn_bench.cli import help as cli_help


def run_id() -> str:
    """A suffix that tells apart runs started in the same second: the process id (unique among live
    processes of one machine) and 32 random bits (across machines sharing a folder)."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def register() -> None:
    # cached per config: every reference in one run sees the same value, and Hydra copies the cache
    # to the jobs it launches elsewhere (submitit), so they find the sweep folder it made
    if not OmegaConf.has_resolver("run_id"):
        OmegaConf.register_new_resolver("run_id", run_id, use_cache=True)
    # conf/scale/cpu.yaml: bf16 where the CPU computes it natively; the threads of one grid job
    if not OmegaConf.has_resolver("cpu_precision"):
        OmegaConf.register_new_resolver("cpu_precision", _cpu_precision)
    if not OmegaConf.has_resolver("job_threads"):
        OmegaConf.register_new_resolver("job_threads", _job_threads)
    # conf/hydra/default.yaml: a grid's folder named by its command line (cached like run_id, so its
    # jobs, whose hydra.overrides.task are their own, find the folder their parent named)
    if not OmegaConf.has_resolver("sweep_folder"):
        OmegaConf.register_new_resolver("sweep_folder", _sweep_folder, use_cache=True)
    # conf/experiment/: the methods of a grid (their YAMLs' listing blocks)
    if not OmegaConf.has_resolver("listed_methods"):
        OmegaConf.register_new_resolver("listed_methods", _listed_methods)
    # conf/experiment/: the grids' forget targets; conf/hydra/help/: the groups --help lists
    experiment_targets.register()
    cli_help.register()


def _cpu_precision(setting) -> str:
    from unlearn_bench.utils.cpu import cpu_precision

    return cpu_precision(setting)


def _sweep_folder(experiment, overrides) -> str:
    from unlearn_bench.sweep.location import sweep_folder

    return sweep_folder(experiment, [str(o) for o in overrides])


def _listed_methods(grid: str) -> str:
    from unlearn_bench.methods.catalogue import grid_methods

    return ",".join(grid_methods(str(grid)))


def _job_threads() -> int:
    from unlearn_bench.utils.cpu import job_threads

    return job_threads()


register()
