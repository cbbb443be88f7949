"""The paper's numbers (Tables 1–6 of Foster et al., AAAI-24), shipped with the package, and the
mapping from our records to the paper's table, model and forget-target names."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

PAPER_CSV = "paper_tables.csv"

# (dataset, task) -> the paper's table of all methods; Table 1 (Fisher vs SSD) is built separately
TABLE_OF = {("cifar100", "class"): "2", ("cifar20", "class"): "3", ("pins", "class"): "4",
            ("cifar20", "subclass"): "5", ("cifar10", "random"): "6"}
TITLES = {
    "1": "Table 1: Fisher Forgetting vs SSD vs retraining, with method time t (s)",
    "2": "Table 2: CIFAR-100 full-class forgetting",
    "3": "Table 3: CIFAR-20 full-class forgetting",
    "4": "Table 4: PinsFaceRecognition, forgetting one person (mean over ids 1, 10, 20, 30, 40)",
    "5": "Table 5: CIFAR-20 sub-class forgetting",
    "6": "Table 6: CIFAR-10, forgetting 100 random samples",
}
# Table 4 reports one row per model: the mean over its five forget targets
POOLED_TARGET = {"4": "ids_1_10_20_30_40_mean"}
# method order of the paper's tables, then the later methods
METHOD_ORDER = ("baseline", "retrain", "finetune", "bad_teacher", "amnesiac", "unsir", "fisher", "ssd",
                "scrub", "salun", "l1_sparse", "neggrad_plus", "random_label", "jit")
METRICS = ("Dr", "Df", "MIA")
# the paper's short names of CIFAR-20 superclasses (our records hold the dataset's own names)
SUPERCLASS_ALIASES = {"vehicles_2": "vehicle2", "fruit_and_vegetables": "veg",
                      "household_electrical_devices": "electrical_devices",
                      "large_natural_outdoor_scenes": "natural_scenes"}


@dataclass(frozen=True)
class PaperValue:
    mean: float
    std: float


@cache
def paper_values() -> dict[tuple[str, str, str, str, str, str, str], PaperValue]:
    """(table, model, dataset, task, forget, metric, method) -> the paper's mean ± std."""
    text = resources.files("unlearn_bench.report").joinpath(PAPER_CSV).read_text()
    values = {}
    for row in csv.DictReader(text.splitlines()):
        key = tuple(row[k] for k in ("table", "model", "dataset", "task", "forget", "metric", "method"))
        values[key] = PaperValue(float(row["mean"]), float(row["std"]))
    return values


def paper_value(table: str, model: str, dataset: str, task: str, forget: str, metric: str,
                method: str) -> PaperValue | None:
    return paper_values().get((table, model, dataset, task, forget, metric, method))


def paper_forget_name(task: str, forget: str, n_forget: int | None = None) -> str:
    """Our record's forget target in the paper's spelling ('100 random samples' -> 'random_100')."""
    if task == "random":
        return f"random_{n_forget}" if n_forget is not None else forget
    return SUPERCLASS_ALIASES.get(forget, forget)


def method_rank(method: str) -> tuple[int, str]:
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)
