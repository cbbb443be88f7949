"""What the CPU presets decide from the machine: bf16 where the CPU computes it natively, and how many
threads each job of a grid takes (conf/scale/cpu.yaml, conf/hydra/launcher/cpu_pool.yaml)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# CPU flags (Linux /proc/cpuinfo) of native bf16 arithmetic; elsewhere bf16 is emulated, ~10× slower
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = Path("/proc/cpuinfo")
BF16_SETTINGS = ("auto", "true", "false")


def cpu_flags(cpuinfo: Path | None = None) -> set[str]:
    """The feature flags of the first CPU in `cpuinfo` (/proc/cpuinfo; empty where it is missing: not Linux)."""
    try:
        text = (cpuinfo or CPUINFO).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_model(cpuinfo: Path | None = None) -> str:
    """The first CPU's model name in `cpuinfo`, else what `platform` knows."""
    try:
        for line in (cpuinfo or CPUINFO).read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def has_native_bf16(cpuinfo: Path | None = None) -> bool:
    return platform.machine().lower() in ("x86_64", "amd64") and bool(cpu_flags(cpuinfo) & set(BF16_FLAGS))


def cpu_precision(setting, cpuinfo: Path | None = None) -> str:
    """`scale.cpu_bf16` as a `trainer.precision`: true → bf16-mixed, false → 32-true, auto → bf16-mixed
    only on a CPU with native bf16."""
    value = str(setting).lower()
    if value not in BF16_SETTINGS:
        from unlearn_bench.utils.errors import UnlearnBenchError

        raise UnlearnBenchError(f"scale.cpu_bf16={setting!r} is not one of {', '.join(BF16_SETTINGS)}.")
    if value == "auto":
        return "bf16-mixed" if has_native_bf16(cpuinfo) else "32-true"
    return "bf16-mixed" if value == "true" else "32-true"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_job(parallel_jobs: int, cores: int | None = None) -> int:
    """The cores shared out among `parallel_jobs` jobs running at once (at least one thread each)."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores // max(1, parallel_jobs))


def parallel_jobs() -> int:
    """How many jobs of this sweep run at once: the joblib launcher's n_jobs (−1: one per core); 1 for
    any other launcher and for a single run (the launcher is configured but unused)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return 1
    launcher = HydraConfig.get().launcher
    if not str(launcher.get("_target_", "")).endswith("JoblibLauncher"):
        return 1
    n_jobs = int(launcher.get("n_jobs") or 1)
    return usable_cores() if n_jobs < 0 else n_jobs


def job_threads() -> int:
    """The intra-op threads of one job: the usable cores over the jobs running beside it."""
    return threads_per_job(parallel_jobs())


def apply_threads(num_threads) -> None:
    """Set torch's intra-op threads (`trainer.num_threads`; None leaves torch's default)."""
    if num_threads is None:
        return
    import torch

    if int(num_threads) != torch.get_num_threads():
        torch.set_num_threads(int(num_threads))


def training_threads(trainer) -> int | None:
    """The intra-op threads a CPU training uses (`trainer.num_threads`, else torch's current count);
    None when training runs on an accelerator. On one CPU, the same seed trains other weights with
    another thread count (reductions add up in another order), so the model store keys it."""
    if not _trains_on_cpu(str(trainer.get("accelerator", "auto"))):
        return None
    if trainer.get("num_threads") is not None:
        return int(trainer.num_threads)
    import torch

    return torch.get_num_threads()


def with_cpu_precision(cfg):
    """`cfg` with bf16-mixed and channels_last for training on the CPU where `scale.cpu_bf16` (true,
    or auto on a CPU with native bf16) asks for it; otherwise `cfg` as it is (trainer.precision kept)."""
    from omegaconf import OmegaConf, open_dict

    setting = OmegaConf.select(cfg, "scale.cpu_bf16")
    if setting is None or not _trains_on_cpu(str(cfg.trainer.accelerator)):
        return cfg
    if cpu_precision(setting) == "32-true":
        return cfg
    with open_dict(cfg):
        cfg.trainer.precision = "bf16-mixed"
        cfg.trainer.channels_last = True
    return cfg


def _trains_on_cpu(accelerator: str) -> bool:
    if accelerator == "cpu":
        return True
    if accelerator != "auto":
        return False
    import torch

    return not torch.cuda.is_available()
