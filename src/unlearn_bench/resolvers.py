"""OmegaConf resolvers the configs use; imported before Hydra composes a config."""

from __future__ import annotations

import os
import secrets

from omegaconf import OmegaConf


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


def _cpu_precision(setting) -> str:
    from unlearn_bench.cpu import cpu_precision

    return cpu_precision(setting)


def _job_threads() -> int:
    from unlearn_bench.cpu import job_threads

    return job_threads()


register()
