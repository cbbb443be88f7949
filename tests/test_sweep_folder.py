"""A grid's folder is named by its command line (sweep_folder), so rerunning the same command after a
kill resumes it: the finished jobs are skipped. hydra.sweep.dir=... still chooses another folder, and
one invocation at a time runs in a folder."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from cli_helpers import finish, start, wait_for
from unlearn_bench.cli.hydra_callbacks import SweepFolderLock
from unlearn_bench.conf import CONF_DIR
from unlearn_bench.sweep.location import sweep_folder

TABLE2_CPU = ["experiment=table2", "scale=cpu", "dataset=digits"]


def test_the_same_overrides_in_any_order_name_the_same_folder_on_any_day():
    folder = sweep_folder("table2", TABLE2_CPU)
    assert folder == "table2/d6e2d9393f"  # a hash of the text alone: no date, process or machine in it
    assert sweep_folder("table2", list(reversed(TABLE2_CPU))) == folder
    assert sweep_folder(None, ["method=ssd,baseline", "seed=0,1"]).startswith("grid/")


@pytest.mark.parametrize("extra", ["paths.root_dir=/elsewhere", "+confirm=true", "trainer.enable_progress_bar=true",
                                   "logger=wandb", "+logger.tags=[a]"])
def test_overrides_that_change_no_result_keep_the_folder(extra):
    assert sweep_folder("table2", [*TABLE2_CPU, extra]) == sweep_folder("table2", TABLE2_CPU)


@pytest.mark.parametrize("extra", ["seed=0", "dataset.train_subset=500", "trainer.precision=bf16-mixed"])
def test_overrides_that_change_a_job_change_the_folder(extra):
    assert sweep_folder("table2", [*TABLE2_CPU, extra]) != sweep_folder("table2", TABLE2_CPU)


def _sweep_dir(*overrides: str) -> str:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=[*overrides, "paths.root_dir=/r"], return_hydra_config=True)
        return str(cfg.hydra.sweep.dir)
    finally:
        GlobalHydra.instance().clear()


def test_the_configs_sweep_folder_comes_from_the_command_line_unless_it_names_one():
    folder = _sweep_dir(*TABLE2_CPU)
    assert folder == _sweep_dir(*TABLE2_CPU) == f"/r/multirun/{sweep_folder('table2', TABLE2_CPU)}"
    assert _sweep_dir(*TABLE2_CPU, "seed=0") != folder
    assert _sweep_dir("method=ssd").startswith("/r/multirun/grid/")
    assert _sweep_dir(*TABLE2_CPU, "hydra.sweep.dir=/mine") == "/mine"
    # an Optuna search resumes from its study, its trials numbered from 0 again: a folder per invocation
    assert re.fullmatch(r"/r/multirun/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d_\d+-[0-9a-f]{8}", _sweep_dir("hparams_search=ssd_optuna"))


def test_a_second_invocation_of_a_running_sweep_exits_2(tmp_path, capsys):
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}, "sweeper": {}}})
    running, second = SweepFolderLock(), SweepFolderLock()
    running.on_multirun_start(config)
    with pytest.raises(SystemExit) as stop:
        second.on_multirun_start(config)
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: another invocation is running this sweep in {tmp_path / 'sweep'}")
    running.on_multirun_end(config)
    second.on_multirun_start(config)  # free again once the first one ended
    second.on_multirun_end(config)


def test_parallel_searches_may_share_a_folder(tmp_path):
    search = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}, "sweeper": {"n_trials": 4}}})
    for callback in (SweepFolderLock(), SweepFolderLock()):
        callback.on_multirun_start(search)  # their trials are handed out by the study they share



def test_a_killed_grid_rerun_with_the_same_command_resumes_in_its_folder(tmp_path):
    grid = ["dataset=digits", "method=baseline,ssd", "task.forget=3"]
    # the overrides cli_helpers.start gives (paths.root_dir, also given, does not name the folder)
    folder = tmp_path / "multirun" / sweep_folder(None, ["scale=smoke", "trainer.accelerator=cpu", *grid])
    proc = start(tmp_path, "-m", *grid)
    wait_for(lambda: (folder / "0" / "results.json").exists(), proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert not (folder / "1" / "results.json").exists()  # killed while its second job ran
    finished = (folder / "0" / "results.json").stat().st_mtime_ns

    code, out, err = finish(start(tmp_path, "-m", *grid))
    assert code == 0, err[-3000:]
    assert (f"Sweep of 2 jobs in {folder} (resume: rerun the same command); 1 has results from an earlier "
            "invocation") in out
    assert re.search(r"\n  original cnn digits seed 0 +in store\n", out)  # trained by the killed invocation
    assert "finished in an earlier invocation" in (folder / "0" / "__main__.log").read_text()
    assert (folder / "0" / "results.json").stat().st_mtime_ns == finished
    assert json.loads((folder / "1" / "results.json").read_text())["method"] == "ssd"
    assert sorted(p.relative_to(folder).as_posix() for p in (tmp_path / "multirun").rglob("results.json")) == [
        "0/results.json", "1/results.json"]
