"""W&B as its users expect: one run per job, open from the start (training curves of the original
and gold models), every result, the report's table row and the run's files as artifacts; readable,
unique names; offline, disabled and failing W&B never cost the local results."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import wandb
from lightning.pytorch.loggers import Logger

from cli_helpers import env as cli_env
from unlearn_bench.experiment.runner import run
from unlearn_bench.report.wandb_reader import read_offline
from unlearn_bench.tracking.artifacts import ArtifactSettings, run_files
from unlearn_bench.tracking.naming import Launch, run_names
from unlearn_bench.tracking.session import RunTracker
from wandb_log import read_run


def _wandb_env(tmp_path: Path, mode: str) -> dict:
    """W&B with no network and nothing written outside tmp_path."""
    home = tmp_path / "wandb_home"
    return {"WANDB_MODE": mode, "WANDB_SILENT": "true", "WANDB_DIR": str(home), "WANDB_CACHE_DIR": str(home / "cache"),
            "WANDB_DATA_DIR": str(home / "data"), "WANDB_CONFIG_DIR": str(home / "config"),
            "WANDB_ARTIFACT_DIR": str(home / "artifacts"), "WANDB_API_KEY": ""}


@pytest.fixture(autouse=True)
def fresh_wandb():
    """W&B reads its mode once per process: start each test with none set up."""
    yield
    wandb.teardown()


@pytest.fixture
def offline(tmp_path, monkeypatch):
    for key, value in _wandb_env(tmp_path, "offline").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("WANDB_API_KEY")


def _run_folder(job_dir: Path) -> Path:
    (folder,) = (job_dir / "wandb").glob("offline-run-*")
    return folder


@pytest.mark.slow
def test_offline_grid_runs_hold_curves_results_table_and_artifacts(tmp_path):
    """A 2-job grid (forget 3, forget 8) through the CLI: each job is one W&B run with its own
    name, the curves of what it trained, every result, its table row and its files."""
    sweep = tmp_path / "grid"
    env = {**cli_env(), **_wandb_env(tmp_path, "offline"), "OMP_NUM_THREADS": "1"}
    env.pop("WANDB_API_KEY")
    proc = subprocess.run(
        [sys.executable, "-m", "unlearn_bench", "--multirun", "scale=smoke", "trainer.accelerator=cpu",
         "logger=wandb", "method=ssd", "task.forget=3,8", "training.epochs=2", f"paths.root_dir={tmp_path}",
         f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    runs = {job: read_run(_run_folder(sweep / job)) for job in ("0", "1")}
    records = {job: json.loads((sweep / job / "results.json").read_text()) for job in ("0", "1")}

    first, second = runs["0"], runs["1"]
    assert first.name == "ssd-digits-cnn-class3-s0-j0" and second.name == "ssd-digits-cnn-class8-s0-j1"
    assert first.group == second.group == "digits-cnn-class-smoke"
    assert first.job_type == second.job_type == "ssd"
    sweep_tags = [t for t in first.tags if t.startswith("sweep:")]
    assert sweep_tags == [f"sweep:{sweep.parent.name}/{sweep.name}"] and sweep_tags[0] in second.tags
    for job, wb in runs.items():
        record = records[job]
        assert {"digits", "cnn", record["architecture"], "class", "scale:smoke", f"forget:class{record['forget']}"} <= set(wb.tags)
        assert wb.config["method"] == "ssd" and wb.config["method_config"]["_target_"].endswith("SSD")
        assert wb.exit_code == 0
        # every result, flat
        assert wb.summary["paper_columns/unlearned/Dr"] == pytest.approx(record["paper_columns"]["unlearned"]["Dr"])
        assert wb.summary["method_report/alpha"] == record["method_report"]["alpha"]
        assert wb.summary["split/forget_train"] == record["split"]["forget_train"]
        assert wb.summary["timing/method_s"] == pytest.approx(record["timing"]["method_s"])
        assert wb.summary["distance_to_gold"] == pytest.approx(record["distance_to_gold"])
        # the report's table row, as a W&B Table
        assert wb.history["results_table/_type"] == ["table-file"]
        (table_file,) = (_run_folder(sweep / job) / "files").glob("media/table/results_table_*.table.json")
        table = json.loads(table_file.read_text())
        row = dict(zip(table["columns"], table["data"][0], strict=True))
        assert (row["run"], row["method"], row["seed"]) == (wb.name, "ssd", 0)
        assert row["Dr"] == pytest.approx(record["paper_columns"]["unlearned"]["Dr"])
        # results.json (and whatever else the run lists) as artifacts
        logged = {(kind, files[0]) for kind, _, files in wb.artifacts}
        assert ("results", "results.json") in logged and ("run_table", "results_table.table.json") in logged
        for name, rel in (record.get("artifacts") or {}).items():
            assert any(files == [Path(rel).name] for _, art, files in wb.artifacts if art.startswith(name)), name
    # job 0 trained both models (curves over 2 epochs); job 1 read the original from the model store
    assert len(first.history["original/val_acc"]) == 2 and len(first.history["original/train_loss_epoch"]) == 2
    assert first.history["original/trained"] == [1.0] and second.history["original/cached"] == [1.0]
    assert "original/val_acc" not in second.history
    assert all(len(wb.history["gold/val_acc"]) == 2 for wb in runs.values())
    # the report rebuilds the results from the W&B run folders alone
    assert sorted(read_offline([sweep]), key=lambda r: r["forget"]) == [records["0"], records["1"]]


def test_disabled_wandb_runs_and_writes_results(make_cfg, tmp_path, monkeypatch, caplog):
    for key, value in _wandb_env(tmp_path, "disabled").items():
        monkeypatch.setenv(key, value)
    with caplog.at_level(logging.WARNING, logger="unlearn_bench.tracking"):
        record = run(make_cfg("scale=smoke", "logger=wandb", "task=random", "task.n_forget=20"))
    assert not [r for r in caplog.records if r.name == "unlearn_bench.tracking"]
    local = json.loads((tmp_path / "out" / "results.json").read_text())
    assert local["distance_to_gold"] == pytest.approx(record["distance_to_gold"])
    assert not list((tmp_path / "out").glob("wandb/offline-run-*"))


class RaisingLogger(Logger):
    """A tracker that fails at everything after it was built."""

    name = "raising"
    version = "0"

    @property
    def experiment(self):
        raise RuntimeError("tracker down")

    def log_metrics(self, metrics, step=None):
        raise RuntimeError("tracker down")

    def log_hyperparams(self, params, *args, **kwargs):
        raise RuntimeError("tracker down")

    def finalize(self, status):
        raise RuntimeError("tracker down")


def _break_wandb(monkeypatch, what: str):
    import wandb
    from wandb.sdk.wandb_run import Run

    def fail(*args, **kwargs):
        raise RuntimeError("W&B down")

    if what == "init":
        monkeypatch.setattr(wandb, "init", fail)
    else:  # logging, the summary, files and artifact uploads
        for method in ("log", "save", "log_artifact"):
            monkeypatch.setattr(Run, method, fail)


@pytest.mark.parametrize("failure", ["wandb_init", "wandb_logging", "raising_logger"])
def test_a_failing_tracker_never_loses_the_results(failure, make_cfg, tmp_path, monkeypatch, offline, caplog):
    if failure == "raising_logger":
        overrides = [f"+logger.broken._target_={__name__}.RaisingLogger"]
    else:
        _break_wandb(monkeypatch, failure.removeprefix("wandb_"))
        overrides = ["logger=wandb"]
    with caplog.at_level(logging.WARNING, logger="unlearn_bench.tracking"):
        record = run(make_cfg("scale=smoke", "training.epochs=2", *overrides))
    local = json.loads((tmp_path / "out" / "results.json").read_text())
    assert local["paper_columns"] == record["paper_columns"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "unlearn_bench.tracking"]
    assert warnings and all("results.json is unaffected" in w for w in warnings)
    assert any("down" in w for w in warnings)


def test_the_run_logs_listed_files_under_the_size_cap(make_cfg, tmp_path, offline, caplog):
    out = tmp_path / "out"
    out.mkdir()
    record = {"method": "ssd", "dataset": "digits", "model": "cnn", "task": "class", "forget": "3", "seed": 0,
              "paper_columns": {"unlearned": {"Dr": 90.0, "Df": 1.0, "MIA": 2.0}, "gold": {"Dr": 91.0, "Df": 0.0, "MIA": 1.0}},
              "timing": {"method_s": 1.5}, "split": {"forget_train": 30},
              "artifacts": {"unlearned_model": "unlearned_model.safetensors", "big": "big.bin", "gone": "gone.bin"}}
    (out / "results.json").write_text(json.dumps(record))
    (out / "unlearned_model.safetensors").write_bytes(b"\0" * 1000)
    (out / "big.bin").write_bytes(b"\0" * 5000)
    cfg = make_cfg("logger=wandb", "logger.wandb.artifacts.max_mb=0.002")
    tracker = RunTracker(cfg, "ssd", "SmallCNN")
    with caplog.at_level(logging.WARNING, logger="unlearn_bench.tracking"):
        tracker.log_results(record, out / "results.json")
    tracker.close(failed=False)
    wandb.teardown()  # the W&B service has written everything
    wb = read_run(_run_folder(out))
    assert {(kind, files[0]) for kind, _, files in wb.artifacts} == {
        ("results", "results.json"), ("model", "unlearned_model.safetensors"), ("run_table", "results_table.table.json")}
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "big.bin" in messages and "max_mb=0.002" in messages and "gone.bin" in messages


def test_artifacts_opt_out_and_cap(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 2048)
    record = {"artifacts": {"unlearned_model": "model.safetensors"}}
    results = tmp_path / "results.json"
    assert [f.kind for f in run_files(record, results, ArtifactSettings())] == ["results", "model"]
    assert [f.name for f in run_files(record, results, ArtifactSettings(max_mb=0.001))] == ["results"]
    assert run_files(record, results, ArtifactSettings(enabled=False)) == []
    assert ArtifactSettings.from_config({"enabled": False, "max_mb": 5}) == ArtifactSettings(False, 5.0)


def test_names_groups_and_tags(make_cfg):
    grid = Launch(experiment="table2", sweep="2026-11-27/17-00-00_ab12", job=0)
    three, eight = (run_names(make_cfg(f"task.forget={c}"), "ssd", "SmallCNN", Launch(**{**grid.__dict__, "job": j}))
                    for j, c in ((0, 3), (1, 8)))
    assert three.name == "ssd-digits-cnn-class3-s0-j0" and eight.name == "ssd-digits-cnn-class8-s0-j1"
    assert three.group == eight.group == "table2-digits-cnn-class-paper"
    assert {"digits", "cnn", "SmallCNN", "class", "ssd", "forget:class3", "scale:paper", "experiment:table2",
            "sweep:2026-11-27/17-00-00_ab12"} == set(three.tags)
    smoke = run_names(make_cfg("scale=smoke"), "ssd", "SmallCNN", Launch(experiment="table2"))
    debug = run_names(make_cfg(), "ssd", "SmallCNN", Launch(experiment="table2", debug="fast"))
    assert len({three.group, smoke.group, debug.group}) == 3 and smoke.group.endswith("-smoke")
    random = run_names(make_cfg("task=random", "task.n_forget=100", "seed=2"), "retrain", "SmallCNN", Launch())
    assert random.name == "retrain-digits-cnn-random100-s2" and random.job_type == "retrain"
    assert Launch.from_hydra() == Launch()  # a composed config (tests, notebooks): nothing from Hydra

