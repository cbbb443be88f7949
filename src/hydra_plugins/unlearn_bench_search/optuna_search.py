"""The Optuna sweeper of `hparams_search=*`, with one change: a search whose trials all failed ends
with the sweep's failure summary (exit 1) instead of Optuna's "Record does not exist" traceback,
which the plugin raises when it asks the study for a best trial that does not exist."""

from __future__ import annotations

import sys
from pathlib import Path

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

from unlearn_bench.cli.hydra_callbacks import failure_summary


class OptunaSearch(OptunaSweeper):
    def sweep(self, arguments: list[str]) -> None:
        try:
            return super().sweep(arguments)
        except ValueError as err:
            if "Record does not exist" not in str(err):
                raise
            sweep = Path(self.sweeper.sweep_dir)
            lines = failure_summary(sweep) or [f"error: no trial of the search finished (logs in {sweep})."]
            lines.insert(1, "  (no trial completed, so the search has no best parameters)")
            print("\n".join(lines), file=sys.stderr)
            sys.exit(1)
