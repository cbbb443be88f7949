"""Per-epoch learning-rate schedules the methods' YAMLs name as `_partial_` targets."""

from __future__ import annotations

from torch.optim.lr_scheduler import LambdaLR


class LinearUpDown(LambdaLR):
    """The rate rises linearly to the base rate over `up_epochs` epochs, then falls linearly towards
    0 at `total_epochs` (epoch e, from 0, runs at (e + 1)/up_epochs of the base rate while e < up_epochs,
    then (total_epochs − e − 1)/(total_epochs − up_epochs)); stepped once per epoch."""

    def __init__(self, optimizer, up_epochs: int, total_epochs: int):
        if not 1 <= up_epochs < total_epochs:
            raise ValueError(f"LinearUpDown needs 1 ≤ up_epochs < total_epochs, got {up_epochs} and {total_epochs}.")

        def factor(epoch: int) -> float:
            step = epoch + 1
            if step <= up_epochs:
                return step / up_epochs
            return (total_epochs - step) / (total_epochs - up_epochs)

        super().__init__(optimizer, factor)
