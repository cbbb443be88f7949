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


register()
