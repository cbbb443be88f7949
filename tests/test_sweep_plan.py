"""The block a grid prints before its first job (sweep_preview): its jobs and folder, each distinct
original and gold model (in the model store, or to train) and a rough time from what was recorded;
on grids composed from the real configs, as the sweep's parent composes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from torch import nn

from unlearn_bench.conf import CONF_DIR
from unlearn_bench.experiment.model_keys import config_identity, model_material
from unlearn_bench.experiment.setup import load_data
from unlearn_bench.sweep import plan as sweep_plan
from unlearn_bench.sweep.plan import as_job
from unlearn_bench.sweep.preview import describe
from unlearn_bench.sweep.size import job_overrides
from unlearn_bench.training.store import ModelStore
from unlearn_bench.utils.cpu import with_cpu_precision

GRID = ["scale=smoke", "dataset=digits", "trainer.accelerator=cpu", "method=baseline,ssd", "task.forget=3,8", "seed=0"]


@pytest.fixture
def loader():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield GlobalHydra.instance().config_loader()
    GlobalHydra.instance().clear()


def _master(loader, root: Path, *overrides: str):
    """The sweep's parent config, as `python -m unlearn_bench -m ...` composes it."""
    return loader.load_configuration("config", [*overrides, f"paths.root_dir={root}", "hydra.mode=MULTIRUN"],
                                     run_mode=RunMode.MULTIRUN)


def _block(loader, master) -> str:
    return describe(master, lambda overrides: loader.load_sweep_config(master, overrides))


def _store_trained(loader, master, job: list[str], role: str, train_s: float) -> None:
    """A stand-in entry for `job`'s `role` model, written through the store's API under its real key
    (in the store of the master's paths.root_dir, which `job` does not override)."""
    cfg = loader.load_sweep_config(master, [*job, *(o for o in master.hydra.overrides.task if o.startswith("paths."))])
    with as_job(cfg):
        cfg = with_cpu_precision(cfg)
        material = {**model_material(cfg, load_data(cfg).bundle.fingerprint()), "role": role}
        store = ModelStore(Path(cfg.paths.cache_dir) / "models")
        store.get_or_train(material, lambda: nn.Linear(2, 2), lambda net: {"train_s": train_s, "resumed": False},
                           identity=config_identity(cfg, role))


def test_the_block_lists_the_models_in_store_and_to_train_and_estimates_from_the_records(loader, tmp_path):
    master = _master(loader, tmp_path, *GRID)
    folder = Path(str(master.hydra.sweep.dir))
    _store_trained(loader, master, [*GRID[:3], "method=ssd", "task.forget=3", "seed=0"], "original", 150.0)
    # another recipe (5 epochs): not comparable, its time is not used
    _store_trained(loader, master, [*GRID[:3], "training.epochs=5", "task.forget=3", "seed=0"], "gold", 9999.0)
    (folder / "0").mkdir(parents=True)
    (folder / "0" / "results.json").write_text(json.dumps({"method": "baseline", "timing": {"measured_s": 12.0}}))

    assert _block(loader, master) == "\n".join([
        f"Sweep of 4 jobs in {folder} (resume: rerun the same command); 1 has results from an earlier invocation "
        "(skipped where the job's config is unchanged).",
        "Models: 2 to train, 1 in store:",
        "  original cnn digits seed 0       in store",
        "  gold cnn digits seed 0 forget 3  to train",
        "  gold cnn digits seed 0 forget 8  to train",
        "Time: ~5.0 min training for 2 of 2 models to train (median of 1 comparable model in the store); ~12 s "
        "unlearning per job (median of 1 finished job in this folder).",
    ])


def test_with_nothing_recorded_there_is_no_estimate(loader, tmp_path):
    master = _master(loader, tmp_path, *GRID, "seed=0,1,2")
    assert _block(loader, master).splitlines()[1:] == [
        "Models: 9 to train, 0 in store:",
        "  original cnn digits seeds 0-2       to train",
        "  gold cnn digits seeds 0-2 forget 3  to train",
        "  gold cnn digits seeds 0-2 forget 8  to train",
        "Time: no estimate: no comparable model in the store yet; no unlearning time recorded yet.",
    ]


def test_a_scale_lists_its_stand_in_and_a_preset_its_grid(loader, tmp_path):
    lines = _block(loader, _master(loader, tmp_path, "experiment=table2", "scale=smoke", "dataset=digits")).splitlines()
    assert lines[0].startswith(f"Sweep of 56 jobs in {tmp_path}/multirun/table2/")
    assert [line.split("  ")[1] for line in lines[2:-1]] == [
        "original cnn digits seed 0", "original vit_tiny digits seed 0", "gold cnn digits seed 0 forget 3",
        "gold cnn digits seed 0 forget 8", "gold vit_tiny digits seed 0 forget 3", "gold vit_tiny digits seed 0 forget 8"]
    stand_in = _block(loader, _master(loader, tmp_path, "model=resnet18", *GRID)).splitlines()
    assert stand_in[2].split("  ")[1] == "original cnn digits seed 0"  # scale=smoke trains the CNN for ResNet18


def test_models_the_config_cannot_name_are_unknown(loader, tmp_path):
    lines = _block(loader, _master(loader, tmp_path, "dataset=image_folder", "scale=smoke", "method=ssd,baseline"))
    assert lines.splitlines()[1:] == [
        "Models: 0 to train, 0 in store, 2 unknown:",
        "  original cnn image_folder seed 0       unknown",  # the class count comes from the folder
        "  gold cnn image_folder seed 0 forget 0  unknown",
        "Time: no estimate for the 2 unknown models; no unlearning time recorded yet.",
    ]


def test_a_grid_of_too_many_distinct_models_is_counted_not_composed(loader, tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_plan, "MAX_COMPOSED", 1)
    assert _block(loader, _master(loader, tmp_path, *GRID)).splitlines()[1:] == [
        "Models: not listed (2 distinct model settings, more than 1 to look up).",
        "Time: no estimate of the training time (the models are not listed); no unlearning time recorded yet.",
    ]


def test_the_jobs_are_listed_once_per_setting_other_than_the_method(loader, tmp_path):
    master = _master(loader, tmp_path, "experiment=table1", "scale=smoke", "method.alpha=3")
    jobs = job_overrides(master, leave_out=("method",))
    assert len(jobs) == 4 and jobs[0][0] == "+setting=cifar20_class"
    assert not any(o.startswith("method") for job in jobs for o in job)
    assert job_overrides(_master(loader, tmp_path, "seed=0", "method.alpha=interval(1,10)")) is None
