"""Command line: python -m unlearn_bench [group=choice ...] [key=value ...] [--multirun]."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from unlearn_bench.errors import user_error
from unlearn_bench.pipeline import run


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Runs one experiment; returns its distance to the gold model on the validation split (the
    sweep objective: a search never tunes on the test split the tables report)."""
    try:
        return float(run(cfg)["tuning_objective"])
    except Exception as err:
        cause = user_error(err)
        if cause is None:
            raise
        print(f"error: {cause}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
