"""SIGTERM (Slurm, `timeout`, `docker stop`) and SIGINT (Ctrl-C) end a run with a non-zero code.

The handler raises `Interrupted`, a BaseException: Hydra and Lightning let it through (after their
clean-up), no `except Exception` swallows it, and every `finally` runs, so temporary files are
removed and nothing half-written is left (all writes are atomic).

An Optuna search whose trials run in this process (Hydra's basic launcher) holds a signal that
arrives while the sweeper itself is working (asking or telling a trial, composing the next job) until
the next trial body starts, where it is raised, so no trial is left RUNNING by a process that is gone;
a second signal is raised at once.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(BaseException):
    def __init__(self, signum: int, written: str | None = None):
        super().__init__(signum)
        self.signum = signum
        self.written = written  # the results file a signal held during the final write let complete

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 143 for SIGTERM, 130 for SIGINT

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        if self.written is not None:
            return f"stopped by {name} as the run ended: its results are complete in {self.written}."
        return (f"stopped by {name}: this run wrote no results (finished models, importances and sweep "
                "jobs are kept; rerun to continue).")


class _State:
    held = False  # signals are held rather than raised
    pending: int | None = None  # a held signal


def _handle(signum: int, frame) -> None:
    if _State.held and _State.pending is None:
        _State.pending = signum
        return
    raise Interrupted(signum)


def install() -> None:
    _State.held, _State.pending = False, None
    for sig in SIGNALS:
        signal.signal(sig, _handle)


def hold() -> None:
    """From now on, hold signals except inside `released()`."""
    _State.held = True


def take_pending() -> int | None:
    """The held signal, if any (no longer held)."""
    signum, _State.pending = _State.pending, None
    return signum


def stop_holding() -> int | None:
    """Raise signals at once from now on; returns the signal held until now, if any."""
    _State.held = False
    return take_pending()


@contextmanager
def released() -> Iterator[None]:
    """Signals are raised inside the block (a held one at its start); held again after it, if they were."""
    was_held = _State.held
    _State.held = False
    try:
        held = take_pending()
        if held is not None:
            raise Interrupted(held)
        yield
    finally:
        _State.held = was_held


class FinalWrite:
    """Holds SIGTERM / SIGINT while a run writes its results: a signal that lands then is raised once
    the write is over, saying where the complete results are (`written`), or that there are none if
    the write failed. A second signal is raised at once."""

    written: str | None = None

    def __enter__(self) -> FinalWrite:
        self._was_held = _State.held
        _State.held = True
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _State.held = self._was_held
        if self._was_held:
            return False  # an Optuna search holds signals itself: it raises the held one
        signum = take_pending()
        if signum is not None:
            raise Interrupted(signum, self.written if exc_type is None else None)
        return False
