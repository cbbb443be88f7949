"""Command line: python -m unlearn_bench [group=choice ...] [key=value ...] [--multirun]."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from unlearn_bench.errors import UnlearnBenchError
from unlearn_bench.pipeline import run

log = logging.getLogger("unlearn_bench")


def _user_error(err: BaseException) -> UnlearnBenchError | None:
    while err is not None:
        if isinstance(err, UnlearnBenchError):
            return err
        err = err.__cause__ or err.__context__
    return None


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Runs one experiment; returns its distance to the gold model (the sweep objective)."""
    try:
        return float(run(cfg)["distance_to_gold"])
    except (UnlearnBenchError, InstantiationException) as err:
        user_error = _user_error(err)
        if user_error is None:
            raise
        print(f"error: {user_error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
