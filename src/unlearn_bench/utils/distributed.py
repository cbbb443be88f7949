"""Multi-process helpers shared by training and the importance pass (DESIGN §4)."""

from __future__ import annotations

import multiprocessing

import torch.distributed as dist
from lightning.pytorch.strategies.launchers.multiprocessing import _MultiProcessingLauncher


def end_spawned_process_group(trainer) -> None:
    """A spawned rank ends its process group before it exits.

    Lightning destroys only NCCL groups at exit; a rank whose gloo group is still alive at
    interpreter shutdown can abort ("terminate called without an active exception").
    """
    spawned = (isinstance(trainer.strategy.launcher, _MultiProcessingLauncher)
               and multiprocessing.parent_process() is not None)
    if spawned and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
