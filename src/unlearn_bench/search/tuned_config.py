"""Hyperparameter searches: read an Optuna study back and write its best parameters as a config
that any run can reuse (conf/method/<method>_tuned_<dataset>_<model>_<task>.yaml)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)
# trials that count towards n_trials; a failed one (user error, crash, interruption) does not
DONE_STATES = ("COMPLETE", "PRUNED")


@dataclass(frozen=True)
class BestTrial:
    study: str
    storage: str
    params: dict[str, float]
    value: float
    number: int
    n_complete: int


def sqlite_path(storage: str) -> Path | None:
    """The database file of a sqlite:/// URL (None for other storages)."""
    prefix = "sqlite:///"
    return Path(storage[len(prefix):]) if storage.startswith(prefix) else None


def count_done_trials(storage: str, study: str) -> int:
    """Finished trials (complete or pruned) of `study`; 0 when it does not exist yet."""
    import optuna

    db = sqlite_path(storage)
    if db is not None and not db.exists():
        return 0
    try:
        trials = optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
    except KeyError:  # no such study
        return 0
    return sum(t.state.name in DONE_STATES for t in trials)


def best_trial(storage: str, study: str | None = None) -> BestTrial:
    """The best complete trial; `study` may be omitted when the storage holds a single study."""
    import optuna

    if study is None:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        if len(names) != 1:
            raise ValueError(f"{storage} holds studies {names}: name one with --study.")
        study = names[0]
    loaded = optuna.load_study(study_name=study, storage=storage)
    complete = [t for t in loaded.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        raise ValueError(f"Study {study} has no complete trial yet.")
    best = loaded.best_trial
    return BestTrial(study, storage, dict(best.params), float(best.value), best.number, len(complete))


def tuned_name(study: str) -> str:
    """'ssd-digits-cnn-class-3' -> 'ssd_tuned_digits_cnn_class_3'."""
    method, _, rest = study.partition("-")
    rest = re.sub(r"[^A-Za-z0-9]+", "_", rest).strip("_")
    return f"{method}_tuned_{rest}" if rest else f"{method}_tuned"


def _nested(params: dict[str, float], strip: str = "") -> dict:
    tree: dict = {}
    for key, value in sorted(params.items()):
        node = tree
        *parents, leaf = key.removeprefix(strip).split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = float(value) if isinstance(value, float) else value
    return tree


def write_tuned_config(best: BestTrial, config_dir: str | Path, method: str | None = None) -> Path:
    """Write the best parameters as a config. Only `method.*` parameters: a method config that extends
    the method's own (use: method=<name>); otherwise a global override (use: +tuned=<name>)."""
    method = method or best.study.partition("-")[0]
    name = tuned_name(best.study)
    header = (f"# Best parameters of Optuna study {best.study} ({best.storage}):\n"
              f"# tuning_objective (validation distance_to_gold) {best.value:.4f} at trial {best.number}, {best.n_complete} complete trials.\n")
    if all(k.startswith("method.") for k in best.params):
        path = Path(config_dir) / "method" / f"{name}.yaml"
        body = {"defaults": [method, "_self_"], **_nested(best.params, "method.")}
        header += f"# Use: python -m unlearn_bench method={name} (with the study's dataset, model, task)\n"
    else:
        path = Path(config_dir) / "tuned" / f"{name}.yaml"
        body = {"defaults": [{"override /method": method}], **_nested(best.params)}
        header = "# @package _global_\n" + header + f"# Use: python -m unlearn_bench +tuned={name}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(body, sort_keys=False))
    log.info("Best parameters %s written to %s", best.params, path)
    return path
