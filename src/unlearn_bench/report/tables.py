"""Observations -> the paper's tables: rows (model, forget target, metric), one column per method,
mean ± std over seeds with the paper's mean beside, the method closest to retrain in bold."""

from __future__ import annotations

import math
import re
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
# --paper-standin: the paper setting shown beside a dataset the paper lacks (patterns, not values)
STANDIN = {"class": ("2", "cifar100", "rocket"), "subclass": ("5", "cifar20", "rocket"),
           "random": ("6", "cifar10", "random_100")}
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
    retain_users: set[str] = field(default_factory=set)  # method columns that read the retain set


def build_tables(observations: list[Observation], standin: bool = False) -> list[Table]:
    """Tables 2–6 (and the same layout for datasets the paper lacks, with an empty paper column, or
    with the paper's closest setting beside when `standin`), then Table 1 if Fisher ran."""
    groups: dict[tuple[str, str, str], list[Observation]] = defaultdict(list)
    for obs in observations:
        if obs.method != "fisher":
            groups[(obs.dataset, obs.task, obs.scale)].append(obs)
    tables = [_method_table(dataset, task, obs, scale, standin) for (dataset, task, scale), obs in groups.items()]
    for scale in sorted({o.scale for o in observations if o.method == "fisher"}):
        tables.append(_table1([o for o in observations if o.method in TABLE1_METHODS and o.scale == scale],
                              scale))
    return sorted(tables, key=lambda t: (not t.id[0].isdigit(), t.id.zfill(3)))


def _scaled(table_id: str, title: str, scale: str) -> tuple[str, str]:
    """Tables of the paper's scale keep the paper's ids; other scales are marked in id and title."""
    if scale == "paper":
        return table_id, title
    return f"{table_id}_{re.sub(r'[^A-Za-z0-9.]+', '_', scale).strip('_')}", f"{title} [scale={scale}]"


def _method_table(dataset: str, task: str, obs: list[Observation], scale: str = "paper",
                  standin: bool = False) -> Table:
    table_id = TABLE_OF.get((dataset, task))
    paper_setting = None  # (table, dataset, forget) looked up for the paper column instead of ours
    if table_id is None:
        layout = LAYOUT_OF_TASK.get(task, "2")
        title = f"{dataset}: {task} forgetting (layout of Table {layout}; not in the paper)"
        table_id = f"{dataset}_{task}"
        if standin and task in STANDIN:
            paper_setting = STANDIN[task]
            title += f"; paper column: Table {paper_setting[0]}, {paper_setting[1]} {paper_setting[2]}"
    else:
        title = TITLES[table_id]
    pooled = POOLED_TARGET.get(table_id)
    by_row: dict[tuple, list[Observation]] = defaultdict(list)
    for o in obs:
        by_row[(o.model, o.paper_model, pooled or o.forget)].append(o)
    rows = []
    for (model, paper_model, forget), row_obs in sorted(by_row.items(), key=_row_order):
        for metric in METRICS:
            rows.append(_row(table_id, model, paper_model, dataset, task, forget, metric, row_obs,
                             paper_setting))
    return Table(*_scaled(table_id, title, scale), method_columns(obs), rows, retain_users=_retain_users(obs))


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
    return Table(*_scaled("1", TITLES["1"], scale), method_columns(obs), rows, setting_column=True,
                 retain_users=_retain_users(obs))


def time_tables(observations: list[Observation]) -> list[Table]:
    """Figure 2's numbers: mean method time (s) per setting and model, the fastest in bold."""
    tables = []
    for scale in sorted({o.scale for o in observations}):
        obs = [o for o in observations if o.scale == scale and o.method != "baseline"]
        by_row: dict[tuple, list[Observation]] = defaultdict(list)
        for o in obs:
            by_row[(o.model, o.paper_model, o.dataset, o.task, o.forget)].append(o)
        rows = [_row("fig2", model, paper_model, dataset, task, forget, "t", row_obs)
                for (model, paper_model, dataset, task, forget), row_obs in sorted(by_row.items())]
        tables.append(Table(*_scaled("fig2", "Figure 2 (as numbers): time per method", scale),
                            method_columns(obs), rows, setting_column=True, retain_users=_retain_users(obs)))
    return tables


def _retain_users(obs: list[Observation]) -> set[str]:
    return {o.column for o in obs if o.uses_retain}


def method_columns(obs: list[Observation]) -> list[str]:
    """Method columns in the paper's order (a method's variants next to it)."""
    base = {o.column: o.method for o in obs}
    return sorted(base, key=lambda c: (method_rank(base[c]), c))


def _row_order(item) -> tuple:
    (model, paper_model, forget), _ = item
    return (paper_model != "resnet18", paper_model, model, forget)


def _row(table_id: str, model: str, paper_model: str, dataset: str, task: str, forget: str,
         metric: str, obs: list[Observation], paper_setting: tuple[str, str, str] | None = None) -> Row:
    row = Row(model, paper_model, dataset, task, forget, metric)
    if paper_setting is not None:
        table_id, dataset, forget = paper_setting
    values: dict[str, list[float]] = defaultdict(list)
    base = {o.column: o.method for o in obs}
    for o in obs:
        value = o.values.get(metric)
        if value is not None and not math.isnan(value):
            values[o.column].append(value)
    for column in method_columns([o for o in obs if o.column in values]):
        v = values[column]
        paper = paper_value(table_id, paper_model, dataset, task, forget, metric, base[column])
        row.cells[column] = Cell(statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v), paper)
    row.closest = [c for c in row.cells if c in _winners({m: c.mean for m, c in row.cells.items()}, metric)]
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
