"""A grid's rough duration, from what was recorded only: the model store's training times of
comparable models for the models still to train, and the unlearning time of the jobs that finished
in the sweep's folder. Where nothing comparable was recorded there is no number."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from unlearn_bench.experiment.model_keys import ROLES
from unlearn_bench.experiment.record import RESULTS_FILE
from unlearn_bench.sweep.plan import PlannedModel
from unlearn_bench.training.store import ModelStore

# what comparable models may differ in: the same dataset settings, network, recipe, precision and
# threads train as long whatever the seed, the forget request or the role
VARYING = ("data", "seed", "role", "task", "forget")


@dataclass(frozen=True)
class TrainingTime:
    seconds: float  # summed over the models to train that have comparable records
    estimated: int  # how many of the models to train have comparable records
    to_train: int
    comparable: int  # the store entries the estimate rests on


@dataclass(frozen=True)
class UnlearningTime:
    per_job: float  # median over the finished jobs
    finished: int


def _recipe(material: dict) -> str:
    return json.dumps({k: v for k, v in material.items() if k not in VARYING}, sort_keys=True, default=str)


@dataclass(frozen=True)
class _Timed:
    key: str
    recipe: str
    role: str
    seconds: float


def _timed(records: Iterable[dict]) -> list[_Timed]:
    """The original and gold models trained in one go (a resumed training records only its last part)."""
    timed = []
    for record in records:
        material, meta = record["material"], record["meta"]
        seconds = meta.get("train_s")
        if material.get("role") in ROLES and not meta.get("resumed") and isinstance(seconds, int | float):
            timed.append(_Timed(record["key"], _recipe(material), material["role"], float(seconds)))
    return timed


def training_time(to_train: list[PlannedModel]) -> TrainingTime | None:
    """The training time of `to_train`, each the median of its comparable entries in its store (of
    its own role where there are some); None when none has a comparable entry."""
    by_store: dict[Path, list[_Timed]] = {}
    total, estimated, used = 0.0, 0, set()
    for model in to_train:
        if model.store not in by_store:
            by_store[model.store] = _timed(ModelStore(model.store).records())
        identity = model.identity or {}
        alike = [t for t in by_store[model.store] if t.recipe == _recipe(identity)]
        chosen = [t for t in alike if t.role == identity.get("role")] or alike
        if chosen:
            total += statistics.median(t.seconds for t in chosen)
            estimated += 1
            used.update((model.store, t.key) for t in chosen)
    return TrainingTime(total, estimated, len(to_train), len(used)) if estimated else None


def finished_jobs(sweep_dir: Path) -> list[dict]:
    """The readable results records of the jobs in `sweep_dir` (from an earlier invocation)."""
    records = []
    for path in sorted(Path(sweep_dir).glob(f"*/{RESULTS_FILE}")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def unlearning_time(finished: list[dict]) -> UnlearningTime | None:
    """The median unlearning time of the `finished` jobs' records; None when none recorded one."""
    times = [t["measured_s"] for t in (r.get("timing") or {} for r in finished)
             if isinstance(t, dict) and isinstance(t.get("measured_s"), int | float)]
    return UnlearningTime(statistics.median(times), len(times)) if times else None
