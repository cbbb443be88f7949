"""The paper's numbers (Tables 1–6 of Foster et al., AAAI-24), shipped with the package, and the
mapping from our records to the paper's table, model and forget-target names."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from unlearn_bench.methods.catalogue import method_names

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
# Table 4 reports one row per model: the mean over its five forget targets (ids as in task.forget)
POOLED_TARGET = {"4": "ids_1_10_20_30_40_mean"}
PAPER_POOLED_IDS = {"4": ["1", "10", "20", "30", "40"]}
# method order of the paper's tables, then the later methods (methods/catalogue.py)
METHOD_ORDER = method_names()
METRICS = ("Dr", "Df", "MIA")
# our lenses (no paper values): JS to gold on forget / retain data (×1000), ZRF, relearn steps, U-LiRA AUC
LENS_METRICS = ("JSf", "JSr", "ZRF", "RL", "LiRA")
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


def _id_order(value: str) -> tuple:
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def pooled_target(table_id: str, forgets: list[str]) -> str | None:
    """The row name of a table that pools its forget targets: the paper's when the runs cover
    exactly the paper's targets (so its numbers sit beside ours), else the targets present."""
    if table_id not in POOLED_TARGET:
        return None
    forgets = sorted(set(forgets), key=_id_order)
    if forgets == PAPER_POOLED_IDS[table_id]:
        return POOLED_TARGET[table_id]
    return forgets[0] if len(forgets) == 1 else f"mean over {', '.join(forgets)}"


def title_of(table_id: str, present: list) -> str:
    """The title for the runs present: Table 4 names the ids it pools; Table 1 keeps the paper's
    title only when every setting (paper model, dataset, task, forget) is one of the paper's Table 1."""
    if table_id == "4":
        ids = sorted(set(present), key=_id_order)
        what = f"id {ids[0]}" if len(ids) == 1 else f"mean over ids {', '.join(ids)}"
        return f"Table 4: PinsFaceRecognition, forgetting one person ({what})"
    if table_id == "1":
        paper_settings = {k[1:5] for k in paper_values() if k[0] == "1"}
        if set(present) <= paper_settings:
            return TITLES["1"]
        shown = "; ".join(" ".join(s[1:]) for s in present)
        return f"Fisher Forgetting vs SSD vs retraining, with method time t (s) (layout of Table 1; settings: {shown})"
    return TITLES[table_id]
