"""Each job of a sweep logs `job i/N`: N counted by the sweep's parent (SweepSize) from its overrides."""

from __future__ import annotations

from omegaconf import OmegaConf

from cli_helpers import finish, start
from unlearn_bench.sweep.size import sweep_size


def sweep(task, params=None, **sweeper):
    return OmegaConf.create({"hydra": {"sweeper": {"params": params, **sweeper}, "overrides": {"task": task}}})


def test_the_size_is_the_product_of_the_choices():
    assert sweep_size(sweep(["seed=0,1,2", "method=ssd,baseline", "scale=smoke"])) == 6
    assert sweep_size(sweep(["seed=range(0,4)"])) == 4
    assert sweep_size(sweep(["scale=smoke"])) == 1
    # hydra.sweeper.params (an experiment's grid), overridden by the command line
    assert sweep_size(sweep(["seed=0,1"], {"seed": "0,1,2", "method": "ssd,finetune,baseline"})) == 6
    assert sweep_size(sweep(["method.alpha=interval(1,10)"])) is None  # not a grid
    assert sweep_size(sweep(["seed=0"], n_trials=20)) == 20  # an Optuna search


def test_each_job_of_a_two_job_sweep_logs_job_i_of_2(tmp_path):
    proc = start(tmp_path, "--multirun", "method=baseline", "seed=0,1", f"hydra.sweep.dir={tmp_path}/sweep",
                 "dataset.train_subset=200", "dataset.test_subset=100")
    code, out, err = finish(proc)
    assert code == 0, err
    for job in (0, 1):
        log = (tmp_path / "sweep" / str(job) / "__main__.log").read_text()
        assert f"Sweep job {job + 1}/2: " in log and f"seed={job}" in log
