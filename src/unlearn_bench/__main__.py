"""Command line: python -m unlearn_bench [group=choice ...] [key=value ...] [--multirun]."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from unlearn_bench.cli.entry import run_entry
from unlearn_bench.cli.job import is_multirun, single_run, sweep_job
from unlearn_bench.experiment.runner import run
from unlearn_bench.experiment.standin import save_config_that_runs, with_stand_in
from unlearn_bench.utils.cpu import with_cpu_precision


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Runs one experiment; returns its distance to the gold model (the sweep objective)."""
    cfg = save_config_that_runs(with_cpu_precision(with_stand_in(cfg)))
    return sweep_job(cfg, run) if is_multirun() else single_run(cfg, run)


def cli() -> None:
    """The console script `unlearn-bench` (= python -m unlearn_bench)."""
    run_entry(main)


if __name__ == "__main__":
    cli()
