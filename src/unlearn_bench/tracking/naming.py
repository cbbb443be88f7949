"""How a run is found in W&B: its name, group, job type and tags, from the config and Hydra."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig


@dataclass(frozen=True)
class Launch:
    """What Hydra knows about how this run was started (all empty for a composed config)."""

    experiment: str | None = None  # conf/experiment/ choice, e.g. table2
    debug: str | None = None  # conf/debug/ choice, when that group exists
    sweep: str | None = None  # the Optuna study, else the multirun sweep folder (date/time_id)
    job: int | None = None  # the job's number within its sweep

    @classmethod
    def from_hydra(cls) -> Launch:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if not HydraConfig.initialized():
            return cls()
        hydra = HydraConfig.get()
        choices = hydra.runtime.choices
        if hydra.mode != RunMode.MULTIRUN:
            return cls(choices.get("experiment"), choices.get("debug"))
        study = hydra.sweeper.get("study_name")
        sweep = str(study) if study else "/".join(Path(str(hydra.sweep.dir)).parts[-2:])
        return cls(choices.get("experiment"), choices.get("debug"), sweep, int(hydra.job.num))


@dataclass(frozen=True)
class RunNames:
    name: str
    group: str
    job_type: str
    tags: tuple[str, ...]


def forget_target(cfg: DictConfig) -> str:
    """The forget target as configured: a class (name or index), or random<n_forget>."""
    task = cfg.task
    target = f"{task.name}{task.get('n_forget') if task.name == 'random' else task.get('forget')}"
    requests = task.get("requests", 1) or 1
    return f"{target}x{requests}" if requests > 1 else target


def run_names(cfg: DictConfig, method: str, architecture: str, launch: Launch) -> RunNames:
    """Readable and, within a sweep, unique names: two jobs differ in their forget target, seed or
    job number. Smoke, CPU and debug runs never share a group with the paper-scale runs."""
    scale = str(cfg.get("scale", {}).get("name", "paper"))
    setting = [cfg.dataset.name, cfg.model.name, cfg.task.name]
    group = "-".join([*filter(None, [launch.experiment]), *setting, scale,
                      *([f"debug_{launch.debug}"] if launch.debug else [])])
    name = "-".join([method, cfg.dataset.name, cfg.model.name, forget_target(cfg), f"s{cfg.seed}",
                     *([f"j{launch.job}"] if launch.job is not None else [])])
    tags = [cfg.dataset.name, cfg.model.name, architecture, cfg.task.name, method,
            f"forget:{forget_target(cfg)}", f"scale:{scale}"]
    tags += [f"{key}:{value}" for key, value in
             (("experiment", launch.experiment), ("debug", launch.debug), ("sweep", launch.sweep)) if value]
    return RunNames(name=_clean(name), group=_clean(group), job_type=method,
                    tags=tuple(dict.fromkeys(_clean(t)[:64] for t in tags)))


def _clean(text: str) -> str:
    """Letters, digits and -_.:/ only (W&B shows the rest badly or refuses it in names)."""
    return re.sub(r"[^\w.:/-]+", "_", str(text)).strip("_")
