"""Collect results.json records from folders (runs, sweeps, W&B offline run folders) and flatten
each into an Observation: one method run's Dr, Df, MIA and time, in the paper's names."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from unlearn_bench.report.paper import paper_forget_name
from unlearn_bench.results import RESULTS_FILE

log = logging.getLogger(__name__)

# config keys that do not change what a run measures (where it wrote, how it logged)
_NOT_IDENTITY = ("paths", "logger")


@dataclass(frozen=True)
class Observation:
    """One run, in table terms. `values` holds Dr, Df, MIA (%) and t (s, the method's time)."""

    dataset: str
    task: str
    model: str
    paper_model: str
    forget: str
    method: str
    seed: int
    values: dict[str, float]
    scale: str = "paper"  # conf/scale/ of the run: tables never mix scales
    gap: dict[str, float] = field(default_factory=dict)  # unlearned − gold of Dr, Df, MIA
    importance_d_s: float | None = None  # SSD: seconds of the []_D pass (computed, not loaded)


def find_results(paths: Iterable[str | Path]) -> list[Path]:
    """Every results.json under the given folders (or the files themselves), W&B run folders included."""
    found = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(path.rglob(RESULTS_FILE)))
        else:
            log.warning("No such file or folder: %s", path)
    return found


def load_records(paths: Iterable[str | Path], include_searches: bool = False) -> list[dict]:
    """The records of `paths`, one per distinct run (the newest file wins), hyperparameter-search
    trials left out unless include_searches (their SSD rows would mix many α, λ)."""
    dated = []
    for path in find_results(paths):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            log.warning("Skipping %s: %s", path, err)
            continue
        if "method" not in record or "paper_columns" not in record:
            log.warning("Skipping %s: not an unlearn-bench results record", path)
            continue
        dated.append((path.stat().st_mtime, record))
    return dedupe([r for _, r in sorted(dated, key=lambda pair: pair[0])], include_searches)


def dedupe(records: Iterable[dict], include_searches: bool = False) -> list[dict]:
    """One record per run identity (its config minus paths and loggers); later records win."""
    by_identity: dict[str, dict] = {}
    for record in records:
        if not include_searches and "search" in record.get("config", {}):
            continue
        by_identity[run_identity(record)] = record
    return list(by_identity.values())


def run_identity(record: dict) -> str:
    config = {k: v for k, v in record.get("config", {}).items() if k not in _NOT_IDENTITY}
    trainer = dict(config.get("trainer") or {})
    trainer.pop("enable_progress_bar", None)
    config["trainer"] = trainer
    key = {"config": config, **{k: record.get(k) for k in ("method", "dataset", "model", "task", "forget", "seed")}}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def paper_model_of(record: dict) -> str:
    """The paper's model our model stood in for (scale.models maps paper model -> ours)."""
    models = (record.get("config", {}).get("scale") or {}).get("models") or {}
    for paper_model, ours in models.items():
        if ours == record["model"]:
            return paper_model
    return record["model"]


def observations(records: list[dict]) -> list[Observation]:
    """Flatten records. SSD's time counts its []_D pass even when the pass was read from the cache
    (the paper recomputes it each run): the compute time comes from the run that computed it."""
    computed = {r["method_report"]["importance_key"]: r["method_report"]["importance_train_s"]
                for r in records if _is_ssd(r) and not r["method_report"].get("importance_cache_hit")}
    return [_observation(r, computed) for r in records]


def _is_ssd(record: dict) -> bool:
    return record["method"] == "ssd" and "importance_train_s" in (record.get("method_report") or {})


def _observation(record: dict, computed: dict[str, float]) -> Observation:
    cols = record["paper_columns"]
    values = {k: _num(cols["unlearned"].get(k)) for k in ("Dr", "Df", "MIA")}
    gap = {k: _num(cols["unlearned"].get(k)) - _num(cols["gold"].get(k)) for k in ("Dr", "Df", "MIA")}
    timing = record.get("timing") or {}
    t = _num(timing.get("method_s"))
    importance_d = None
    if _is_ssd(record):
        report = record["method_report"]
        importance_d = report.get("importance_train_compute_s")  # if the store records it
        if importance_d is None:
            importance_d = report["importance_train_s"] if not report.get("importance_cache_hit") \
                else computed.get(report.get("importance_key"), report["importance_train_s"])
        t = t - report["importance_train_s"] + importance_d
    values["t"] = t
    n_forget = (record.get("split") or {}).get("forget_train")
    return Observation(
        dataset=record["dataset"], task=record["task"], model=record["model"],
        paper_model=paper_model_of(record),
        forget=paper_forget_name(record["task"], str(record["forget"]), n_forget),
        method=record["method"], seed=int(record["seed"]), values=values, gap=gap,
        scale=str((record.get("config", {}).get("scale") or {}).get("name", "paper")),
        importance_d_s=importance_d,
    )


def _num(value) -> float:
    return float("nan") if value is None else float(value)
