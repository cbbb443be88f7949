"""Optuna trials never stay RUNNING: each trial is claimed by the process running it (host:pid), a
trial whose process is interrupted is told FAIL, and one whose process was killed (SIGKILL, power
loss) is told FAIL by the next search on the study. Parallel searches get distinct sampler seeds."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

from filelock import FileLock

from unlearn_bench.search.tuned_config import sqlite_path

log = logging.getLogger(__name__)
OWNER = "owner"  # user attribute of a trial: "host:pid" of the process running it


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _load(storage: str, study: str):
    import optuna

    db = sqlite_path(storage)
    if db is not None and not db.exists():
        return None

    try:
        return optuna.load_study(study_name=study, storage=storage)
    except KeyError:
        return None


def _matches(params: dict, overrides: list[str]) -> bool:
    given = dict(o.split("=", 1) for o in overrides if "=" in o)
    for name, value in params.items():
        if name not in given:
            return False
        try:
            if float(given[name]) != float(value):
                return False
        except (TypeError, ValueError):
            if str(given[name]) != str(value):
                return False
    return True


def _running(storage: str, study: str):
    import optuna

    loaded = _load(storage, study)
    if loaded is None:
        return None, []
    return loaded, [t for t in loaded.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING]


def claim_trial(storage: str, study: str, overrides: list[str]) -> None:
    """Mark the RUNNING trial of these overrides as run by this process."""
    loaded, running = _running(storage, study)
    for trial in running:
        if OWNER not in trial.user_attrs and _matches(trial.params, overrides):
            loaded._storage.set_trial_user_attr(trial._trial_id, OWNER, _owner())
            return


def fail_claimed_trial(storage: str, study: str, overrides: list[str]) -> None:
    """Tell FAIL to the RUNNING trial this process claimed for these overrides."""
    import optuna

    loaded, running = _running(storage, study)
    for trial in running:
        if trial.user_attrs.get(OWNER) == _owner() and _matches(trial.params, overrides):
            loaded.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            log.warning("Trial %d of %s marked FAIL: its run was interrupted.", trial.number, study)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphaned_trials(storage: str, study: str) -> int:
    """Tell FAIL to RUNNING trials claimed by a process of this host that no longer exists."""
    import optuna

    loaded, running = _running(storage, study)
    failed = 0
    for trial in running:
        host, _, pid = str(trial.user_attrs.get(OWNER, "")).rpartition(":")
        if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
            loaded.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            failed += 1
    if failed:
        log.warning("%d trial(s) of %s whose process was killed marked FAIL.", failed, study)
    return failed


def _create_study(study: str, storage: str, directions: list[str], attempts: int = 3) -> None:
    """optuna.create_study, tried again when another process (a reader, a dashboard) was creating
    the storage's tables at the same moment."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(1, attempts + 1):
        try:
            optuna.create_study(study_name=study, storage=storage, directions=directions, load_if_exists=True)
            return
        except SQLAlchemyError:
            if attempt == attempts:
                raise
            time.sleep(0.2 * attempt)


def start_search(storage: str, study: str, direction: str | list[str]) -> int:
    """Create the study if needed and count this search; returns how many searches were started on
    the study before this one (0 for the first). Under a lock beside a SQLite storage, so that
    searches started together neither race to create its tables nor draw the same random trials."""
    db = sqlite_path(storage)
    if db is None:
        return 0
    db.parent.mkdir(parents=True, exist_ok=True)
    counter = db.with_name(f"{db.name}.{study}.searches.json")
    with FileLock(str(counter) + ".lock"):
        directions = [direction] if isinstance(direction, str) else list(direction)
        _create_study(study, storage, directions)
        started = json.loads(counter.read_text()).get("started", 0) if counter.exists() else 0
        Path(counter).write_text(json.dumps({"started": started + 1}))
    return int(started)
