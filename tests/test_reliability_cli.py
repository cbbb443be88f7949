"""Through the command line (subprocesses, scale=smoke on digits): signals, sweeps that finish and
resume, Optuna trial states. One module-wide cache: the smoke models train once."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from cli_helpers import REPO, finish, start, wait_for

STUDY = "ssd-digits-cnn-class-3"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reliability")



@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_training_exits_non_zero_with_one_line_and_writes_nothing(tmp_path, sig):
    run_dir = tmp_path / "run"
    proc = start(tmp_path, "training.epochs=50", f"hydra.run.dir={run_dir}")
    log = run_dir / "__main__.log"
    wait_for(lambda: log.exists() and "original: epoch 2/50" in log.read_text(), proc)  # 48 epochs to go
    proc.send_signal(sig)
    code, _, err = finish(proc)
    assert code == 128 + sig
    assert err.strip().splitlines()[-1].startswith(f"error: stopped by {signal.Signals(sig).name}: ")
    assert "Traceback" not in err
    assert not list(run_dir.glob("results*.json"))
    models = tmp_path / ".cache" / "unlearn_bench" / "models"
    assert [p.name for p in models.iterdir() if not p.name.endswith(".lock")] == []  # no half-written model
    assert f"error: stopped by {signal.Signals(sig).name}" in log.read_text()


def _grid(root: Path, sweep: Path) -> list[str]:
    return ["-m", "method=unsir,baseline", "task=random", "task.n_forget=20", f"hydra.sweep.dir={sweep}"]


def test_a_failing_sweep_job_is_reported_the_others_run_and_a_rerun_skips_finished_jobs(root):
    sweep = root / "grid"
    code, out, err = finish(start(root, *_grid(root, sweep)))
    assert code == 1, err[-3000:]
    summary = err[err.index("error: 1 of 2 jobs failed"):].splitlines()
    assert len(summary) == 2 and summary[1].startswith("  job 0 (") and "method=unsir" in summary[1]
    assert summary[1].endswith("): Method unsir is not defined for random forgetting (it supports: class, subclass).")
    assert json.loads((sweep / "1" / "results.json").read_text())["method"] == "baseline"
    assert "Method unsir is not defined for random forgetting" in (sweep / "0" / "__main__.log").read_text()

    finished = (sweep / "1" / "results.json").stat().st_mtime_ns
    killed_write = sweep / "1" / ".results.json.0123abcd.tmp"  # as a kill -9 during the write leaves it
    killed_write.write_text("{half")
    code, out, err = finish(start(root, *_grid(root, sweep)))
    assert code == 1 and "error: 1 of 2 jobs failed" in err
    assert "finished in an earlier invocation" in (sweep / "1" / "__main__.log").read_text()
    assert (sweep / "1" / "results.json").stat().st_mtime_ns == finished
    assert not (sweep / "1" / "results-2.json").exists() and not killed_write.exists()


def _trials(db: Path):
    import optuna

    return optuna.load_study(study_name=STUDY, storage=f"sqlite:///{db}").get_trials(deepcopy=False)


def _search(root: Path, name: str, n_trials: int, *extra: str) -> list[str]:
    return ["hparams_search=ssd_optuna", "task.forget=3", f"search.dir={root / name}",
            f"search.config_dir={root / name / 'conf'}", f"hydra.sweeper.n_trials={n_trials}",
            f"hydra.sweep.dir={root / name / 'sweep'}", *extra]


def test_a_failing_optuna_trial_ends_fail_and_the_search_goes_on(root):
    searchpath = f"hydra.searchpath=[file://{REPO / 'tests' / 'conf_failing'}]"
    args = _search(root, "failing", 3, searchpath)
    args[0] = "hparams_search=ssd_failing"
    code, out, err = finish(start(root, *args))
    assert code == 1, err[-3000:]
    trials = _trials(root / "failing" / f"{STUDY}.db")
    assert {t.params["method.alpha"]: t.state.name for t in trials} == {-1.0: "FAIL", 2.0: "COMPLETE"}
    failed = sum(t.state.name == "FAIL" for t in trials)
    assert f"error: {failed} of 3 jobs failed" in err and "method.alpha=-1.0 is invalid" in err
    assert (root / "failing" / "conf" / "method" / "ssd_tuned_digits_cnn_class_3.yaml").exists()


def _claimed_by(db: Path, pid: int) -> bool:
    try:
        return any(t.state.name == "RUNNING" and t.user_attrs.get("owner", "").endswith(f":{pid}")
                   for t in _trials(db))
    except Exception:  # noqa: BLE001 - the study is being created
        return False


def test_killed_and_interrupted_trials_never_stay_running(root):
    db = root / "killed" / f"{STUDY}.db"
    for sig in (signal.SIGKILL, signal.SIGTERM):
        proc = start(root, *_search(root, "killed", 50))  # far more trials than run before the kill
        wait_for(lambda pid=proc.pid: _claimed_by(db, pid), proc)
        os.killpg(proc.pid, sig)
        code, _, err = finish(proc)
        assert code == (-sig if sig == signal.SIGKILL else 128 + sig), (code, err[-3000:])
    # the SIGTERM'd trial ended FAIL at once; the SIGKILLed one when the next search started
    assert [t.state.name for t in _trials(db)].count("RUNNING") == 0
    assert all(t.state.name in ("FAIL", "COMPLETE") for t in _trials(db))


def test_a_signal_as_a_trial_ends_leaves_no_trial_running(root):
    # the signal lands at the end of the first trial or in the sweeper before the next one, where it is
    # held until the next trial starts: either way that trial ends FAIL
    db, first = root / "boundary" / f"{STUDY}.db", root / "boundary" / "sweep" / "0" / "results.json"
    proc = start(root, *_search(root, "boundary", 50))
    wait_for(first.exists, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    code, _, err = finish(proc)
    assert code == 143 and err.strip().splitlines()[-1].startswith("error: stopped by SIGTERM"), err[-3000:]
    states = [t.state.name for t in _trials(db)]
    assert "RUNNING" not in states and "FAIL" in states, states


def test_a_study_that_cannot_be_prepared_stops_the_search_before_any_trial(root):
    blocker = root / "not-a-folder"
    blocker.write_text("")
    sweep = root / "unprepared" / "sweep"
    code, _, err = finish(start(root, "hparams_search=ssd_optuna", "task.forget=3", f"search.dir={blocker / 'db'}",
                                f"search.config_dir={root / 'unprepared' / 'conf'}", f"hydra.sweep.dir={sweep}"))
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("error: could not prepare the Optuna study ("), err[-3000:]
    assert not sweep.exists() or not any(p.is_dir() for p in sweep.iterdir())


def test_parallel_searches_on_one_study_share_it_without_repeating_trials(root):
    # each search runs n_trials less the study's finished trials at its start, which depends on how far
    # the other got by then: the number each planned is read from its log
    procs = [start(root, *_search(root, "parallel", 2)) for _ in range(2)]
    planned = 0
    for proc in procs:
        code, out, err = finish(proc)
        assert code == 0, err[-3000:]
        resumed = re.search(r"Resuming Optuna study \S+: (\d) of 2 trials done, (\d) to run", out + err)
        planned += int(resumed[2]) if resumed else 2
    trials = _trials(root / "parallel" / f"{STUDY}.db")
    assert [t.state.name for t in trials] == ["COMPLETE"] * planned
    assert len({tuple(sorted(t.params.items())) for t in trials}) == planned


def test_a_search_whose_trials_all_fail_ends_with_the_failure_summary(root):
    code, _, err = finish(start(root, *_search(root, "all_failing", 2, "method.lambda_=-1")))
    assert code == 1 and "Traceback" not in err and "Record does not exist" not in err, err[-3000:]
    summary = err[err.index("error: all 2 jobs failed"):].splitlines()
    assert summary[1] == "  (no trial completed, so the search has no best parameters)"
    assert len(summary) == 4 and all("method.lambda_=-1 is invalid" in line for line in summary[2:])
