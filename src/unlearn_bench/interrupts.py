"""SIGTERM (Slurm, `timeout`, `docker stop`) and SIGINT (Ctrl-C) end a run with a non-zero code.

The handler raises `Interrupted`, a BaseException: Hydra and Lightning let it through (after their
clean-up), no `except Exception` swallows it, and every `finally` runs, so temporary files are
removed and nothing half-written is left (all writes are atomic).
"""

from __future__ import annotations

import signal

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(BaseException):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 143 for SIGTERM, 130 for SIGINT

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        return (f"stopped by {name}: this run wrote no results (finished models, importances and sweep "
                "jobs are kept; rerun to continue).")


def _raise(signum: int, frame) -> None:
    raise Interrupted(signum)


def install() -> None:
    for sig in SIGNALS:
        signal.signal(sig, _raise)
