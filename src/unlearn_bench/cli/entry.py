"""Running an entry point (a @hydra.main function): arguments refused before Hydra starts, and
SIGTERM / SIGINT ending the process with 128 + the signal's number."""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from typing import NoReturn

from unlearn_bench.cli import interrupts
from unlearn_bench.cli.choices import removed_group, unknown_choice
from unlearn_bench.cli.experiment_targets import grid_refusal
from unlearn_bench.cli.job import log_to_file
from unlearn_bench.cli.preflight import output_problem
from unlearn_bench.experiment.standin import stand_in_argv


def run_entry(entry) -> None:
    """`entry` (a @hydra.main function) with SIGTERM / SIGINT ending the process with 128 + the signal's number."""
    interrupts.install()
    # the user config folder ($UNLEARN_BENCH_ROOT/conf) is optional: Hydra warns on every run without it
    warnings.filterwarnings("ignore", message=r"provider=hydra\.searchpath in main, path=.* is not available")
    argv = sys.argv[1:]
    refused = removed_group(argv) or unknown_choice(argv) or output_problem(argv) or grid_refusal(argv)
    if refused is not None:
        print(f"error: {refused}", file=sys.stderr)
        sys.exit(2)
    sys.argv = [sys.argv[0], *stand_in_argv(argv)]
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
