"""A grid's folder, named by what it runs: `multirun/<experiment or grid>/<hash of its overrides>`,
so that the same command line, rerun after a kill (on another day too), finds its finished jobs and
skips them (job.sweep_job). conf/hydra/default.yaml sets it through the `sweep_folder` resolver;
`hydra.sweep.dir=...` on the command line still chooses another.

Two invocations of one grid at once would run the same jobs into the same folders: the sweep's
parent holds a lock on its folder while it runs (SweepLock)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from filelock import FileLock, Timeout

from unlearn_bench.sweep.size import NOT_IDENTITY, override_key, under

LOCK = ".sweep.lock"


def sweep_folder(experiment: str | None, overrides: Iterable[str]) -> str:
    """`<experiment or 'grid'>/<hash>`: the hash of the sorted command-line overrides (hydra.* are
    not among them), leaving out those that do not change what a job computes (NOT_IDENTITY)."""
    kept = sorted(o.strip() for o in overrides if not under(override_key(o.strip()), NOT_IDENTITY))
    digest = hashlib.sha256("\n".join(kept).encode()).hexdigest()[:10]
    name = str(experiment) if experiment not in (None, "", "null", "None") else "grid"
    return f"{name}/{digest}"


class SweepLock:
    """The lock a sweep's parent holds on its folder while its jobs run (released when it exits,
    killed too)."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / LOCK
        self.lock: FileLock | None = None

    def take(self) -> bool:
        """Take the lock; False when another live process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        self.lock = lock
        return True

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None
