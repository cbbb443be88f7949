"""Observations -> the paper's tables: rows (model, forget target, metric), one column per method,
mean ± std over seeds with the paper's mean beside, the method closest to retrain in bold."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from unlearn_bench.report.collect import Observation
from unlearn_bench.report.paper import (
    METHOD_ORDER,
    METRICS,
    POOLED_TARGET,
    TABLE_OF,
    TITLES,
    PaperValue,
    method_rank,
    paper_value,
)

TABLE1_METHODS = ("retrain", "fisher", "ssd")
LAYOUT_OF_TASK = {"class": "2", "subclass": "5", "random": "6"}
TIE = 5e-3  # values this close are equally close to retrain (both bold)


@dataclass
class Cell:
    mean: float
    std: float
    n: int
    paper: PaperValue | None = None
    bold: bool = False


@dataclass
class Row:
    model: str
    paper_model: str
    dataset: str
    task: str
    forget: str
    metric: str
    cells: dict[str, Cell] = field(default_factory=dict)  # method -> cell (ours; paper inside)
    closest: list[str] = field(default_factory=list)  # ours: the bold methods
    paper_closest: list[str] = field(default_factory=list)  # the paper's, over all its methods


@dataclass
class Table:
    id: str
    title: str
    methods: list[str]
    rows: list[Row]
    setting_column: bool = False  # Table 1: rows span several datasets and tasks


def build_tables(observations: list[Observation]) -> list[Table]:
    """Tables 2–6 (and the same layout for datasets the paper lacks), then Table 1 if Fisher ran."""
    groups: dict[tuple[str, str, str], list[Observation]] = defaultdict(list)
    for obs in observations:
        if obs.method != "fisher":
            groups[(obs.dataset, obs.task, obs.scale)].append(obs)
    tables = [_method_table(dataset, task, obs, scale) for (dataset, task, scale), obs in groups.items()]
    for scale in sorted({o.scale for o in observations if o.method == "fisher"}):
        tables.append(_table1([o for o in observations if o.method in TABLE1_METHODS and o.scale == scale],
                              scale))
    return sorted(tables, key=lambda t: (not t.id[0].isdigit(), t.id.zfill(3)))


def _scaled(table_id: str, title: str, scale: str) -> tuple[str, str]:
    """Tables of the paper's scale keep the paper's ids; other scales are marked in id and title."""
    return (table_id, title) if scale == "paper" else (f"{table_id}_{scale}", f"{title} [scale={scale}]")


def _method_table(dataset: str, task: str, obs: list[Observation], scale: str = "paper") -> Table:
    table_id = TABLE_OF.get((dataset, task))
    if table_id is None:
        layout = LAYOUT_OF_TASK.get(task, "2")
        title = f"{dataset}: {task} forgetting (layout of Table {layout}; not in the paper)"
        table_id = f"{dataset}_{task}"
    else:
        title = TITLES[table_id]
    pooled = POOLED_TARGET.get(table_id)
    by_row: dict[tuple, list[Observation]] = defaultdict(list)
    for o in obs:
        by_row[(o.model, o.paper_model, pooled or o.forget)].append(o)
    rows = []
    for (model, paper_model, forget), row_obs in sorted(by_row.items(), key=_row_order):
        for metric in METRICS:
            rows.append(_row(table_id, model, paper_model, dataset, task, forget, metric, row_obs))
    methods = sorted({o.method for o in obs}, key=method_rank)
    return Table(*_scaled(table_id, title, scale), methods, rows)


def _table1(obs: list[Observation], scale: str = "paper") -> Table:
    by_row: dict[tuple, list[Observation]] = defaultdict(list)
    for o in obs:
        by_row[(o.model, o.paper_model, o.dataset, o.task, o.forget)].append(o)
    rows = []
    for (model, paper_model, dataset, task, forget), row_obs in sorted(by_row.items()):
        if not any(o.method == "fisher" for o in row_obs):
            continue
        for metric in (*METRICS, "t"):
            rows.append(_row("1", model, paper_model, dataset, task, forget, metric, row_obs))
    return Table(*_scaled("1", TITLES["1"], scale), list(TABLE1_METHODS), rows, setting_column=True)


def _row_order(item) -> tuple:
    (model, paper_model, forget), _ = item
    return (paper_model != "resnet18", paper_model, model, forget)


def _row(table_id: str, model: str, paper_model: str, dataset: str, task: str, forget: str,
         metric: str, obs: list[Observation]) -> Row:
    row = Row(model, paper_model, dataset, task, forget, metric)
    values: dict[str, list[float]] = defaultdict(list)
    for o in obs:
        value = o.values.get(metric)
        if value is not None and not math.isnan(value):
            values[o.method].append(value)
    for method in sorted(values, key=method_rank):
        v = values[method]
        row.cells[method] = Cell(statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v),
                                 paper_value(table_id, paper_model, dataset, task, forget, metric, method))
    row.closest = sorted(_winners({m: c.mean for m, c in row.cells.items()}, metric), key=method_rank)
    for method in row.closest:
        row.cells[method].bold = True
    paper = {m: v.mean for m in METHOD_ORDER
             if (v := paper_value(table_id, paper_model, dataset, task, forget, metric, m))}
    row.paper_closest = sorted(_winners(paper, metric), key=method_rank)
    return row


def _winners(values: dict[str, float], metric: str) -> set[str]:
    """Methods closest to retrain (for t: the fastest), baseline and retrain themselves excluded."""
    ref = values.get("retrain")
    scores = {m: (v if metric == "t" else abs(v - ref)) for m, v in values.items()
              if m not in ("baseline", "retrain") and (metric == "t" or ref is not None)}
    if not scores:
        return set()
    best = min(scores.values())
    return {m for m, s in scores.items() if s <= best + TIE}
