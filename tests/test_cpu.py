"""The CPU presets' decisions: bf16 only where the CPU has it natively, threads shared out per job."""

from __future__ import annotations

import platform

import pytest
import torch
from omegaconf import OmegaConf

from unlearn_bench.utils import cpu
from unlearn_bench.utils.errors import UnlearnBenchError

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx avx2 fma\n"
WITH_BF16 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile\n"


@pytest.fixture
def x86(monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")


def write(tmp_path, text):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return path


def test_the_cpu_model_is_read_from_the_first_cpu(tmp_path):
    info = "processor\t: 0\nmodel name\t: AMD EPYC 9554\nflags\t\t: avx2\n\nprocessor\t: 1\nmodel name\t: other\n"
    assert cpu.cpu_model(write(tmp_path, info)) == "AMD EPYC 9554"


def test_cpu_flags_are_read_from_the_first_cpu(tmp_path):
    assert cpu.cpu_flags(write(tmp_path, AVX2_ONLY)) == {"fpu", "sse2", "avx", "avx2", "fma"}
    assert cpu.cpu_flags(tmp_path / "missing") == set()


@pytest.mark.parametrize(("text", "auto"), [(AVX2_ONLY, "32-true"), (WITH_BF16, "bf16-mixed")])
def test_auto_chooses_bf16_only_on_a_cpu_with_native_bf16(tmp_path, x86, text, auto):
    info = write(tmp_path, text)
    assert cpu.cpu_precision("auto", info) == auto
    assert cpu.cpu_precision(True, info) == "bf16-mixed"
    assert cpu.cpu_precision(False, info) == "32-true"


def test_an_unknown_bf16_setting_is_refused_naming_the_key(tmp_path):
    with pytest.raises(UnlearnBenchError, match=r"scale\.cpu_bf16='sometimes'"):
        cpu.cpu_precision("sometimes", write(tmp_path, AVX2_ONLY))


@pytest.mark.parametrize(("jobs", "cores", "threads"), [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 16, 8), (0, 4, 4)])
def test_threads_per_job_share_out_the_cores(jobs, cores, threads):
    assert cpu.threads_per_job(jobs, cores) == threads


def test_outside_a_hydra_sweep_one_job_takes_every_core():
    assert cpu.parallel_jobs() == 1
    assert cpu.job_threads() == cpu.usable_cores()


def test_a_single_run_takes_every_core_even_with_the_pool_launcher(monkeypatch):
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    def hydra(mode):
        return OmegaConf.create({"mode": mode, "launcher": {
            "_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 2}})

    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: hydra(RunMode.MULTIRUN)))
    assert cpu.parallel_jobs() == 2
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: hydra(RunMode.RUN)))
    assert cpu.parallel_jobs() == 1


@pytest.mark.parametrize(("trainer", "threads"), [
    ({"accelerator": "cpu", "num_threads": 1}, 1),
    ({"accelerator": "cpu", "num_threads": None}, "torch's"),
    ({"accelerator": "cuda", "num_threads": 1}, None),
])
def test_a_cpu_training_is_keyed_by_its_threads(trainer, threads):
    expected = torch.get_num_threads() if threads == "torch's" else threads
    assert cpu.training_threads(OmegaConf.create(trainer)) == expected


def test_apply_threads_sets_torchs_threads_and_none_keeps_them():
    before = torch.get_num_threads()
    try:
        cpu.apply_threads(None)
        assert torch.get_num_threads() == before
        cpu.apply_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def config(cpu_bf16, accelerator="cpu"):
    return OmegaConf.create({"scale": {"cpu_bf16": cpu_bf16},
                             "trainer": {"accelerator": accelerator, "precision": "32-true", "channels_last": False}})


def test_bf16_on_the_cpu_turns_on_bf16_mixed_and_channels_last():
    cfg = cpu.with_cpu_precision(config(True))
    assert (cfg.trainer.precision, cfg.trainer.channels_last) == ("bf16-mixed", True)


@pytest.mark.parametrize("cfg", [config(False), config(True, accelerator="gpu"),
                                 OmegaConf.create({"trainer": {"accelerator": "cpu", "precision": "16-mixed"}})])
def test_the_trainer_precision_is_kept_off_the_cpu_or_when_bf16_is_off(cfg):
    before = OmegaConf.to_container(cfg.trainer)
    assert OmegaConf.to_container(cpu.with_cpu_precision(cfg).trainer) == before


def test_auto_keeps_fp32_on_a_cpu_without_native_bf16(tmp_path, monkeypatch, x86):
    monkeypatch.setattr(cpu, "CPUINFO", write(tmp_path, AVX2_ONLY))
    assert cpu.with_cpu_precision(config("auto")).trainer.precision == "32-true"
