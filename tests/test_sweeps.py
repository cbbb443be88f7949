"""Sweeps through the CLI (subprocesses, scale=smoke on digits): an experiment grid, a resumable
Optuna search, the submitit_local launcher; and every preset composes at every scale."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from unlearn_bench.conf import CONF_DIR
from unlearn_bench.report.collect import load_records, observations
from unlearn_bench.report.tables import build_tables

CONF = CONF_DIR
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
SCALES = ("paper", "cpu", "smoke")
STUDY = "ssd-digits-cnn-class-3"


def _compose(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_presets_compose_to_a_grid(experiment, scale):
    cfg = _compose(f"experiment={experiment}", f"scale={scale}")
    params = OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True)
    assert cfg.hydra.mode.name == "MULTIRUN" and {"model", "method", "seed"} <= set(params)
    models = set(params["model"].split(","))
    assert models <= ({"resnet18", "vit"} if scale == "paper" else {"cnn", "resnet_small", "vit_tiny"})


@pytest.mark.parametrize("dataset, stand_in, epochs", [("cifar10", "resnet_small", 7), ("digits", "cnn", 15),
                                                       ("fashion_mnist", "cnn", 15)])
def test_cpu_scale_stands_in_a_small_resnet_on_cifar10_only(dataset, stand_in, epochs):
    cfg = _compose("experiment=table6", "scale=cpu", f"dataset={dataset}")
    assert OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True)["model"] == f"{stand_in},vit_tiny"
    run = _compose("scale=cpu", f"dataset={dataset}", f"model={stand_in}")
    assert run.training.epochs == epochs
    assert run.training.schedule == ("onecycle" if stand_in == "resnet_small" else "multistep")


@pytest.mark.parametrize("experiment", ["table2", "table3", "table6", "fig2"])
def test_offline_variants_compose(experiment):
    cfg = _compose(f"experiment={experiment}", "scale=cpu", "dataset=fashion_mnist")
    assert cfg.dataset.train_subset == 3000 and cfg.training.epochs == 15
    OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True)


def test_the_paper_scale_leaves_the_default_run_unchanged():
    with_scale, without = _compose(), _compose("~scale")
    assert with_scale.hydra.mode is None or with_scale.hydra.mode.name == "RUN"
    assert with_scale.scale.name == "paper" and "scale" not in without
    mine, theirs = (OmegaConf.to_container(c, resolve=False) for c in (with_scale, without))
    for cfg in (mine, theirs):
        cfg.pop("hydra")
    mine.pop("scale")
    assert mine == theirs


def _cli(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "1"}
    return subprocess.Popen([sys.executable, "-m", "unlearn_bench", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kwargs)


def _ok(proc: subprocess.Popen, timeout: float = 900) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """One data/model cache for the module: the smoke models train once."""
    return tmp_path_factory.mktemp("sweeps")


def _smoke(root: Path, *args: str) -> list[str]:
    return ["scale=smoke", f"paths.root_dir={root}", *args]


@pytest.mark.slow
def test_experiment_grid_2x2_gives_four_results_and_a_table(root):
    sweep = root / "grid"
    _ok(_cli("experiment=table2", "dataset=digits", "model=cnn", "task.forget=3", "method=retrain,ssd",
             "seed=0,1", *_smoke(root, f"hydra.sweep.dir={sweep}"), cwd=root))
    records = load_records([sweep])
    assert len(records) == 4
    assert {(r["method"], r["seed"]) for r in records} == {(m, s) for m in ("retrain", "ssd") for s in (0, 1)}
    (table,) = build_tables(observations(records))
    assert table.id == "digits_class_smoke" and table.methods == ["retrain", "ssd"]
    dr = next(row for row in table.rows if row.metric == "Dr")
    expected = sum(r["paper_columns"]["unlearned"]["Dr"] for r in records if r["method"] == "ssd") / 2
    assert dr.cells["ssd"].n == 2 and dr.cells["ssd"].mean == pytest.approx(expected)
    assert dr.verdict.text() in ("ssd", "tie (ssd)") and dr.model == "cnn" and dr.paper_model == "resnet18"


def _study_trials(db: Path) -> list:
    import optuna

    if not db.exists():
        return []
    try:
        return optuna.load_study(study_name=STUDY, storage=f"sqlite:///{db}").get_trials(deepcopy=False)
    except KeyError:
        return []


def _search(root: Path, name: str, n_trials: int) -> list[str]:
    return ["hparams_search=ssd_optuna", "task.forget=3", *_smoke(root), f"search.dir={root / name}",
            f"search.config_dir={root / name / 'conf'}", f"hydra.sweeper.n_trials={n_trials}",
            f"hydra.sweep.dir={root / name / 'sweep'}"]


@pytest.mark.slow
def test_optuna_search_completes_and_writes_the_best_config(root):
    _ok(_cli(*_search(root, "search", 3), cwd=root))
    trials = _study_trials(root / "search" / f"{STUDY}.db")
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    tuned = (root / "search" / "conf" / "method" / "ssd_tuned_digits_cnn_class_3.yaml").read_text()
    best = min(trials, key=lambda t: t.value)
    assert f"alpha: {best.params['method.alpha']}" in tuned and "- ssd" in tuned


def _complete_trials_readonly(db: Path) -> int:
    """Count complete trials without touching the schema the running search is creating."""
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet, or the database is locked
        return 0


@pytest.mark.slow
def test_interrupted_optuna_search_resumes_from_sqlite(root):
    db = root / "resume" / f"{STUDY}.db"
    proc = _cli(*_search(root, "resume", 50), cwd=root)  # far more trials than run before the kill
    deadline = time.monotonic() + 900
    while _complete_trials_readonly(db) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "search ended before 2 trials"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    done = sum(t.state.name == "COMPLETE" for t in _study_trials(db))  # 2, or 3 if one more ended meanwhile
    out = _ok(_cli(*_search(root, "resume", done + 1), cwd=root))
    assert f"{done} of {done + 1} trials done, 1 to run" in out
    complete = [t for t in _study_trials(db) if t.state.name == "COMPLETE"]
    assert len(complete) == done + 1
    assert len({tuple(sorted(t.params.items())) for t in complete}) == done + 1  # distinct parameters


@pytest.mark.slow
def test_submitit_local_launcher_runs_a_two_job_grid(root, tmp_path):
    sweep = root / "submitit"
    # from a folder outside the repo: conf/ is found through the installed package's config_path
    _ok(_cli("-m", "method=baseline,ssd", "hydra/launcher=local", *_smoke(root, f"hydra.sweep.dir={sweep}"),
             cwd=tmp_path))
    records = load_records([sweep])
    assert sorted(r["method"] for r in records) == ["baseline", "ssd"]
    assert any((sweep / ".submitit").iterdir())


def test_cpu_pool_launcher_runs_two_jobs_at_once_with_the_cores_shared_out(root, tmp_path):
    sweep = root / "pool"
    _ok(_cli("-m", "method=baseline,finetune", "hydra/launcher=cpu_pool", "trainer.num_threads=${job_threads:}",
             *_smoke(root, f"hydra.sweep.dir={sweep}"), cwd=tmp_path))
    records = load_records([sweep])
    assert sorted(r["method"] for r in records) == ["baseline", "finetune"]
    cores = len(os.sched_getaffinity(0))
    assert {r["config"]["trainer"]["num_threads"] for r in records} == {max(1, cores // 2)}


def test_cpu_scale_runs_grids_in_the_cpu_pool_and_other_scales_one_by_one():
    pool = _compose("scale=cpu").hydra.launcher
    assert pool._target_.endswith("JoblibLauncher") and pool.n_jobs == 2
    assert _compose("scale=cpu", "hydra/launcher=basic").hydra.launcher._target_.endswith("BasicLauncher")
    assert _compose("scale=smoke").hydra.launcher._target_.endswith("BasicLauncher")


PAPER_PRESETS = [
    ("table2", "write_cifar100", ["task.forget=rocket"]),
    ("table3", "write_cifar100", ["task.forget=vehicle2"]),
    ("table5", "write_cifar100", ["task.forget=rocket"]),
    ("table6", "write_cifar10", ["task.n_forget=5"]),
    ("table4", "write_pins", ["task.forget=1", "dataset.num_classes=5"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("experiment,writer,extra", PAPER_PRESETS, ids=[p[0] for p in PAPER_PRESETS])
def test_paper_presets_run_unchanged_on_fixture_files(tmp_path, experiment, writer, extra):
    """The CIFAR and Pins presets, on tiny files in the real on-disk formats, narrowed to one job."""
    import fixture_data

    getattr(fixture_data, writer)(tmp_path / "data")
    sweep = tmp_path / "sweep"
    _ok(_cli(f"experiment={experiment}", "scale=smoke", "model=cnn", "method=ssd", "seed=0",
             "dataset.train_subset=null", "dataset.test_subset=null", f"paths.root_dir={tmp_path}",
             f"hydra.sweep.dir={sweep}", *extra, cwd=tmp_path))
    (record,) = load_records([sweep])
    assert record["method"] == "ssd" and record["model"] == "cnn"
    assert record["dataset"] == {"table2": "cifar100", "table3": "cifar20", "table5": "cifar20",
                                 "table6": "cifar10", "table4": "pins"}[experiment]
