"""Command line: python -m unlearn_bench [group=choice ...] [key=value ...] [--multirun]."""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from typing import NoReturn

import hydra
from omegaconf import DictConfig

from unlearn_bench import interrupts
from unlearn_bench.choices import unknown_choice
from unlearn_bench.cpu import with_cpu_precision
from unlearn_bench.experiment_targets import grid_refusal
from unlearn_bench.job import is_multirun, log_to_file, single_run, sweep_job
from unlearn_bench.pipeline import run
from unlearn_bench.preflight import output_problem
from unlearn_bench.standin import with_stand_in


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Runs one experiment; returns its distance to the gold model (the sweep objective)."""
    cfg = with_cpu_precision(with_stand_in(cfg))
    return sweep_job(cfg, run) if is_multirun() else single_run(cfg, run)


def cli(entry=main) -> None:
    """`entry` (a @hydra.main function) with SIGTERM / SIGINT ending the process with 128 + the signal's number."""
    interrupts.install()
    # the user config folder ($UNLEARN_BENCH_ROOT/conf) is optional: Hydra warns on every run without it
    warnings.filterwarnings("ignore", message=r"provider=hydra\.searchpath in main, path=.* is not available")
    argv = sys.argv[1:]
    refused = unknown_choice(argv) or output_problem(argv) or grid_refusal(argv)
    if refused is not None:
        print(f"error: {refused}", file=sys.stderr)
        sys.exit(2)
    try:
        entry()
    except interrupts.Interrupted as stop:
        _exit(str(stop), stop.exit_code)
    held = interrupts.stop_holding()  # a signal held while an Optuna search ended its last trial
    if held is not None:
        _exit(f"stopped by {signal.Signals(held).name} after the last trial (the search's results are kept).",
              128 + held)


def _exit(message: str, code: int) -> NoReturn:
    log_to_file(f"error: {message}")
    logging.shutdown()
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    cli()
