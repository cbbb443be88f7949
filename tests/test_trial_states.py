"""Creating a study while another process creates the storage's tables is tried again."""

from __future__ import annotations

import optuna
import pytest
from sqlalchemy.exc import OperationalError

from unlearn_bench.search import trial_states


def _racing(times: int, calls: list):
    real = optuna.create_study

    def create_study(**kwargs):
        calls.append(kwargs["study_name"])
        if len(calls) <= times:
            raise OperationalError("CREATE TABLE alembic_version", {}, Exception("table alembic_version already exists"))
        return real(**kwargs)

    return create_study


def test_a_study_created_during_a_schema_race_is_created_on_the_next_attempt(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(optuna, "create_study", _racing(1, calls))
    monkeypatch.setattr(trial_states.time, "sleep", lambda s: None)
    storage = f"sqlite:///{tmp_path / 's.db'}"
    assert trial_states.start_search(storage, "s", "minimize") == 0
    assert calls == ["s", "s"]
    assert optuna.load_study(study_name="s", storage=storage).direction.name == "MINIMIZE"


def test_a_storage_that_keeps_failing_raises_after_three_attempts(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(optuna, "create_study", _racing(99, calls))
    monkeypatch.setattr(trial_states.time, "sleep", lambda s: None)
    with pytest.raises(OperationalError):
        trial_states.start_search(f"sqlite:///{tmp_path / 's.db'}", "s", "minimize")
    assert len(calls) == 3
