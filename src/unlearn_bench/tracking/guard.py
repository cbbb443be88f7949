"""A tracker failure is a warning: it never stops a run nor loses its local results."""

from __future__ import annotations

import logging
from contextlib import contextmanager

log = logging.getLogger("unlearn_bench.tracking")


@contextmanager
def guarded(what: str):
    try:
        yield
    except Exception as err:  # noqa: BLE001 - any tracker error; the run and results.json go on
        log.warning("Experiment tracker: %s failed (%s: %s); the run goes on, results.json is unaffected.",
                    what, type(err).__name__, err)
