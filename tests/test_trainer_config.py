"""cfg.trainer builds the lightning.Trainer: any Lightning argument is honoured, an unknown or
suite-owned key is refused before any work; the trainer=cpu|gpu|ddp presets and the debug= group run."""

from __future__ import annotations

import logging

import lightning as L
import pytest
import torch

from cli_helpers import finish, start
from unlearn_bench.experiment.runner import run
from unlearn_bench.experiment.setup import Experiment, load_data
from unlearn_bench.experiment.validation import validate_config
from unlearn_bench.training import trainer as trainer_module
from unlearn_bench.training.trainer import build_trainer, check_trainer_settings, weight_settings
from unlearn_bench.utils.errors import UnlearnBenchError

TINY = ("dataset.train_subset=300", "dataset.test_subset=100", "training.epochs=1", "training.milestones=[]",
        "method=baseline")


@pytest.fixture
def built_trainers(monkeypatch):
    """The keyword arguments of every lightning.Trainer the suite builds."""
    seen, real = [], L.Trainer

    def recording(**kwargs):
        seen.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(trainer_module.L, "Trainer", recording, raising=True)
    yield seen
    monkeypatch.undo()


def test_a_lightning_argument_reaches_the_trainer():
    trainer = build_trainer({"accelerator": "cpu", "gradient_clip_val": 1.0, "accumulate_grad_batches": 2,
                             "channels_last": True}, max_epochs=3, logger=False)
    assert trainer.gradient_clip_val == 1.0 and trainer.accumulate_grad_batches == 2 and trainer.max_epochs == 3


def test_the_importance_pass_takes_only_where_and_how_to_compute():
    trainer = build_trainer({"accelerator": "cpu", "limit_predict_batches": 1, "gradient_clip_val": 1.0},
                            hardware_only=True, logger=False)
    assert trainer.limit_predict_batches == 1.0  # Lightning's default: the whole data


def test_gradient_clipping_from_the_command_line_is_used_and_changes_the_model(make_cfg, built_trainers, one_thread):
    cfg = make_cfg("+trainer.gradient_clip_val=1", *TINY)
    record = run(cfg)
    fits = [kw for kw in built_trainers if "max_epochs" in kw]
    assert len(fits) == 2 and all(kw["gradient_clip_val"] == 1 for kw in fits)  # original and gold
    plain = make_cfg(*TINY)
    data = load_data(plain)
    material = Experiment(plain, data, None).material()
    assert "trainer" not in material  # today's store keys are unchanged
    assert Experiment(cfg, data, None).material()["trainer"] == {"gradient_clip_val": 1}
    assert material["cpu_threads"] == torch.get_num_threads() == 1  # one_thread: the weights depend on it
    assert Experiment(make_cfg(*TINY, "trainer.num_threads=2"), data, None).material()["cpu_threads"] == 2
    assert record["models"]["original"]["key"] != record["models"]["gold"]["key"]


@pytest.mark.parametrize("key,message", [
    ("gradiant_clip_val", r"trainer.gradiant_clip_val is not an argument of lightning.Trainer.*did you mean "
                          r"trainer.gradient_clip_val\?"),
    ("max_epochs", r"trainer.max_epochs is set by the suite.*training.epochs"),
    ("callbacks", r"trainer.callbacks is set by the suite"),
])
def test_unknown_and_suite_owned_keys_are_refused(make_cfg, key, message):
    with pytest.raises(UnlearnBenchError, match=message):
        validate_config(make_cfg(f"+trainer.{key}=1"))


def test_the_suite_keys_and_todays_defaults_pass():
    check_trainer_settings({"accelerator": "auto", "devices": 1, "strategy": "auto", "precision": "32-true",
                            "enable_progress_bar": True, "channels_last": False, "compile": False,
                            "importance_precision": "32-true"})
    assert weight_settings({"accelerator": "cpu", "devices": 2, "precision": "bf16-mixed",
                            "enable_progress_bar": False, "channels_last": True}) == {}


def test_an_unknown_trainer_key_exits_2_on_the_command_line(tmp_path):
    code, out, err = finish(start(tmp_path, "+trainer.gradiant_clip_val=1", f"hydra.run.dir={tmp_path}/out"))
    assert code == 2, err
    assert err.strip().splitlines()[-1].startswith("error: trainer.gradiant_clip_val is not an argument")
    assert "Traceback" not in err and not (tmp_path / ".cache").exists()


def test_trainer_cpu_preset_runs(make_cfg, built_trainers, one_thread):
    record = run(make_cfg("trainer=cpu", *TINY, fast=False))
    assert record["config"]["trainer"]["accelerator"] == "cpu"
    assert all(kw["accelerator"] == "cpu" for kw in built_trainers)


def test_trainer_gpu_preset(make_cfg):
    cfg = make_cfg("trainer=gpu", *TINY, fast=False)
    assert (cfg.trainer.accelerator, cfg.trainer.precision, cfg.trainer.channels_last) == ("gpu", "bf16-mixed", True)
    if torch.cuda.is_available():
        assert run(cfg)["config"]["trainer"]["accelerator"] == "gpu"
    else:
        with pytest.raises(UnlearnBenchError, match="asks for a GPU but CUDA is not available"):
            run(cfg)


def test_trainer_ddp_preset_builds_a_two_rank_spawned_trainer(make_cfg):
    """The DDP fit itself (2 spawned CPU ranks) is test_fast_training.py's
    test_fit_trains_with_ddp_on_two_spawned_cpu_ranks; through the whole pipeline it takes minutes here."""
    cfg = make_cfg("trainer=ddp", "trainer.accelerator=cpu", *TINY, fast=False)
    validate_config(cfg)
    trainer = build_trainer(cfg.trainer, max_epochs=1, logger=False)
    assert trainer.num_devices == 2 and type(trainer.strategy).__name__ == "DDPStrategy"
    assert trainer.strategy.launcher.__class__.__name__ == "_MultiProcessingLauncher"  # spawned, not re-executed


def test_debug_fast_runs_in_its_run_folder_and_never_writes_the_store(make_cfg, tmp_path, built_trainers, one_thread):
    record = run(make_cfg("debug=fast", "trainer.accelerator=cpu", "method=ssd", fast=False))
    assert record["config"]["scale"]["name"] == "debug-fast"
    assert record["split"]["forget_train"] + record["split"]["retain_train"] < 200
    fits = [kw for kw in built_trainers if "max_epochs" in kw]
    assert all(kw["max_epochs"] == 1 and kw["limit_train_batches"] == 2 for kw in fits)
    assert not (tmp_path / ".cache").exists()  # the real caches are untouched
    assert any((tmp_path / "out" / "debug_cache" / "models").glob("*.safetensors"))


def test_debug_overfit_drives_the_train_loss_down(make_cfg, caplog, one_thread):
    caplog.set_level(logging.INFO, logger="unlearn_bench.training")
    record = run(make_cfg("debug=overfit", "trainer.accelerator=cpu", "training.epochs=12", fast=False))
    assert record["config"]["scale"]["name"] == "debug-overfit"
    losses = [float(r.getMessage().split("train loss ")[1].split(" ")[0]) for r in caplog.records
              if r.getMessage().startswith("original: epoch")]
    assert len(losses) == 12 and losses[-1] < 0.5 * losses[0]


def test_debug_profile_logs_the_profiler_report(make_cfg, caplog, one_thread):
    caplog.set_level(logging.INFO)
    record = run(make_cfg("debug=profile", "trainer.accelerator=cpu", "method=baseline", fast=False))
    assert record["config"]["trainer"]["profiler"] == "simple"
    assert "FIT Profiler Report" in caplog.text
