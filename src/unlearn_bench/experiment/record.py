"""The results record: its fields (the same for every kind of run), written atomically to the run directory,
printed, and sent to loggers."""

from __future__ import annotations

import itertools
import json
import logging
import math
import platform
import re
from pathlib import Path

from unlearn_bench.cache.files import atomic_write_bytes

log = logging.getLogger(__name__)

# every record holds these, whatever the run: one request, a sequence of them (these fields then describe
# its last request), or an evaluate-only run (fields it cannot know are null)
RECORD_FIELDS = (
    "method", "dataset", "model", "architecture", "task", "forget", "seed",
    "data_used", "data_read", "protocol",
    "metrics", "paper_columns", "lenses", "lens_columns", "gap_to_gold", "distance_to_gold", "tuning_objective",
    "timing", "method_report", "warnings", "split", "models", "config", "versions",
)
# what each kind of run adds
KIND_FIELDS = {"single": (), "sequence": ("requests", "recompute_importance", "sequence"),
               "evaluate": ("mode", "model_file")}

RESULTS_FILE = "results.json"
# results.json, or results-N.json when a run folder was shared (write_results never overwrites)
RESULTS_PATTERN = "results*.json"
COLUMNS = (
    ("retain_test_acc", "Dr test"),
    ("forget_test_acc", "Df test"),
    ("retain_train_acc", "Dr train"),
    ("forget_train_acc", "Df train"),
    ("test_acc", "test"),
    ("mia", "MIA"),
)


def _clean(value):
    """JSON has no NaN: empty splits become null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_results(record: dict, directory: str | Path) -> Path:
    """Write results.json atomically into `directory`, never over another run's file: when one is
    there already, results-2.json (3, ...) instead, with a warning."""
    data = json.dumps(_clean(record), indent=2, default=str).encode()
    for n in itertools.count(1):
        path = Path(directory) / (RESULTS_FILE if n == 1 else RESULTS_PATTERN.replace("*", f"-{n}"))
        try:
            atomic_write_bytes(path, data, replace=False)
        except FileExistsError:
            continue
        if n > 1:
            log.warning("%s holds another run's %s; this run's results went to %s.", directory, RESULTS_FILE,
                        path.name)
        return path
    raise AssertionError("unreachable")


def is_results_file(path: Path) -> bool:
    return re.fullmatch(r"results(-\d+)?\.json", path.name) is not None


def load_results(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def versions() -> dict:
    import lightning
    import torch

    from unlearn_bench.version import __version__

    return {"python": platform.python_version(), "torch": torch.__version__,
            "lightning": lightning.__version__, "unlearn_bench": __version__}


def architecture(model_cfg) -> str:
    """The network actually built: the timm architecture name where there is one, else the factory."""
    return str(model_cfg.net.get("arch") or model_cfg.net._target_.rsplit(".", 1)[-1])


def run_identity(cfg, split) -> dict:
    """What a results record is about: the keys the report groups runs by."""
    return {"dataset": cfg.dataset.name, "model": cfg.model.name, "architecture": architecture(cfg.model),
            "task": split.task, "forget": split.target, "seed": cfg.seed}


def split_record(split) -> dict:
    """The sizes of a forget split's sides, and how a scored selection chose its forget set."""
    sizes = {"forget_train": len(split.forget_idx), "retain_train": len(split.retain_idx),
             "forget_test": len(split.test_forget_idx), "retain_test": len(split.test_retain_idx)}
    return {**sizes, "selection": split.selection} if split.selection is not None else sizes


def make_record(cfg, split, verdict: dict, *, method: str, data_used, data_read, protocol: dict | None,
                timing: dict, method_report: dict | None, models: dict, **kind_fields) -> dict:
    """The results record (RECORD_FIELDS, then the kind's own fields) of a run about `split` whose scoring
    gave `verdict` (experiment/scoring.py)."""
    from omegaconf import OmegaConf

    record = {"method": method, **run_identity(cfg, split), "data_used": data_used, "data_read": data_read,
              "protocol": protocol, **verdict, "timing": timing, "method_report": method_report,
              "split": split_record(split), "models": models,
              "config": OmegaConf.to_container(cfg, resolve=True), "versions": versions(), **kind_fields}
    return {key: record[key] for key in (*RECORD_FIELDS, *kind_fields)}


def _fmt(value) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:6.2f}"


def format_table(record: dict) -> str:
    """The console table: unlearned, original and gold side by side (accuracies and MIA in %)."""
    header = f"{'model':<12}" + "".join(f"{title:>10}" for _, title in COLUMNS) + f"{'time (s)':>11}"
    method = record["method"]
    times = {"unlearned": record["timing"]["method_s"], "original": record["timing"].get("original_train_s"),
             "gold": record["timing"].get("gold_train_s")}
    lines = [header, "-" * len(header)]
    labels = {"unlearned": method, "original": "original", "gold": "gold"}
    for role in ("unlearned", "original", "gold"):
        row = record["metrics"].get(role, {})
        lines.append(f"{labels[role]:<12}" + "".join(f"{_fmt(row.get(k)):>10}" for k, _ in COLUMNS)
                     + f"{_fmt(times[role]):>11}")
    gap = record["gap_to_gold"] or {}
    lines.append(f"{'gap to gold':<12}" + "".join(f"{_fmt(gap.get(k)):>10}" for k, _ in COLUMNS))
    return "\n".join(lines)


def flatten(record: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of the record as 'a/b/c' keys, for metric loggers."""
    flat = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}/"))
        elif isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value):
            flat[name] = float(value)
    return flat
