"""Observations -> the paper's tables: rows (model, forget target, metric), one column per method,
mean, 95 % bootstrap interval and n over seeds with the paper's mean beside; the method closest to
retrain in bold only where its interval separates it from the runner-up (else the row says "tie")."""

from __future__ import annotations

import logging
import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace

from unlearn_bench.report.claims import claims_line
from unlearn_bench.report.collect import Observation
from unlearn_bench.report.dampening import dampening_note
from unlearn_bench.report.outcomes import outcomes_note
from unlearn_bench.report.paper import (
    LENS_METRICS,
    METHOD_ORDER,
    METRICS,
    TABLE_OF,
    PaperValue,
    method_rank,
    paper_value,
    pooled_target,
    title_of,
)
from unlearn_bench.report.stats import Verdict, bootstrap_interval, closest_to

log = logging.getLogger(__name__)

TABLE1_METHODS = ("retrain", "fisher", "ssd")
LAYOUT_OF_TASK = {"class": "2", "subclass": "5", "random": "6"}
# --paper-standin: the paper setting shown beside a dataset the paper lacks (patterns, not values)
STANDIN = {"class": ("2", "cifar100", "rocket"), "subclass": ("5", "cifar20", "rocket"),
           "random": ("6", "cifar10", "random_100")}
TIE = 5e-3  # paper values this close are equally close to retrain


@dataclass
class Cell:
    mean: float
    std: float
    n: int
    paper: PaperValue | None = None
    bold: bool = False
    low: float = math.nan  # 95 % bootstrap interval of the mean over seeds
    high: float = math.nan
    cached: bool = False  # a time read from a cache (measured in another run), not in this one
    values: tuple[float, ...] = ()  # the seeds' values


@dataclass
class Row:
    model: str
    paper_model: str
    dataset: str
    task: str
    forget: str
    metric: str
    cells: dict[str, Cell] = field(default_factory=dict)  # method -> cell (ours; paper inside)
    closest: list[str] = field(default_factory=list)  # ours: the bold method (none on a tie)
    verdict: Verdict = field(default_factory=lambda: Verdict(None))
    paper_closest: list[str] = field(default_factory=list)  # the paper's, over all its methods


@dataclass
class Table:
    id: str
    title: str
    methods: list[str]
    rows: list[Row]
    setting_column: bool = False  # Table 1: rows span several datasets and tasks
    data_used: dict[str, tuple[str, ...]] = field(default_factory=dict)  # method -> the data it read
    claims: str = ""  # which of the paper's claims hold on these numbers (computed)
    retain_users: set[str] = field(default_factory=set)  # method columns that read the retain set
    dampening: str = ""  # the SSD family's share of parameters changed, and whether that changed anything
    outcomes: str = ""  # runs that diverged or destroyed the model (report/outcomes.py)


def build_tables(observations: list[Observation], standin: bool = False) -> list[Table]:
    """Tables 2–6 (and the same layout for datasets the paper lacks, with an empty paper column, or
    with the paper's closest setting beside when `standin`), then Table 1 if Fisher ran."""
    groups: dict[tuple[str, str, str], list[Observation]] = defaultdict(list)
    for obs in observations:
        # the paper's own tables have no Fisher column (it is Table 1's); layouts for other datasets
        # show every method that ran
        if obs.method != "fisher" or (obs.dataset, obs.task) not in TABLE_OF:
            groups[(obs.dataset, obs.task, obs.scale)].append(obs)
    tables = [_method_table(dataset, task, obs, scale, standin) for (dataset, task, scale), obs in groups.items()]
    for scale in sorted({o.scale for o in observations if o.method == "fisher"}):
        tables.append(_table1([o for o in observations if o.method in TABLE1_METHODS and o.scale == scale],
                              scale))
    for table in tables:
        table.claims = claims_line(table)
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
        title = title_of(table_id, sorted({o.forget_given for o in obs}))
    pooled = pooled_target(table_id, sorted({o.forget_given for o in obs}))
    by_row: dict[tuple, list[Observation]] = defaultdict(list)
    for o in obs:
        by_row[(o.model, o.paper_model, pooled or o.forget)].append(o)
    rows = []
    for (model, paper_model, forget), row_obs in sorted(by_row.items(), key=_row_order):
        for metric in (*METRICS, *_measured(LENS_METRICS, row_obs)):
            rows.append(_row(table_id, model, paper_model, dataset, task, forget, metric, row_obs,
                             paper_setting))
    data_used = {o.column: o.data_used for o in obs if o.data_used}
    return Table(*_scaled(table_id, _with_n(title, obs), scale), method_columns(obs), rows, data_used=data_used,
                 retain_users=_retain_users(obs), dampening=dampening_note(obs), outcomes=outcomes_note(obs))


def _measured(metrics, obs: list[Observation]) -> list[str]:
    return [m for m in metrics if any(not math.isnan(o.values.get(m, math.nan)) for o in obs)]


def _with_n(title: str, obs: list[Observation]) -> str:
    seeds = sorted({o.seed for o in obs})
    return f"{title} (seeds {', '.join(map(str, seeds))}; n = {len(seeds)})"


def _table1(obs: list[Observation], scale: str = "paper") -> Table:
    by_row: dict[tuple, list[Observation]] = defaultdict(list)
    for o in obs:
        by_row[(o.model, o.paper_model, o.dataset, o.task, o.forget)].append(o)
    rows = []
    settings = set()
    for (model, paper_model, dataset, task, forget), row_obs in sorted(by_row.items()):
        if not any(o.method == "fisher" for o in row_obs):
            continue
        settings.add((paper_model, dataset, task, forget))
        for metric in (*METRICS, "t"):
            rows.append(_row("1", model, paper_model, dataset, task, forget, metric, row_obs))
    title = title_of("1", sorted(settings))
    return Table(*_scaled("1", _with_n(title, obs), scale), method_columns(obs), rows, setting_column=True,
                 retain_users=_retain_users(obs), dampening=dampening_note(obs), outcomes=outcomes_note(obs))


def time_tables(observations: list[Observation]) -> list[Table]:
    """Figure 2's numbers: mean method time (s) per setting and model, the fastest in bold."""
    tables = []
    for scale in sorted({o.scale for o in observations}):
        obs = [o for o in observations if o.scale == scale and o.method != "baseline"]
        obs += [without_importance_pass(o) for o in obs if o.importance_d_s is not None]
        by_row: dict[tuple, list[Observation]] = defaultdict(list)
        for o in obs:
            by_row[(o.model, o.paper_model, o.dataset, o.task, o.forget)].append(o)
        rows = [_row("fig2", model, paper_model, dataset, task, forget, "t", row_obs)
                for (model, paper_model, dataset, task, forget), row_obs in sorted(by_row.items())]
        title = _with_n("Figure 2 (as numbers): time per method", obs)
        table = Table(*_scaled("fig2", title, scale), method_columns(obs), rows, setting_column=True,
                      retain_users=_retain_users(obs))
        table.claims = claims_line(table)
        tables.append(table)
    return tables


def without_importance_pass(o: Observation) -> Observation:
    """SSD's time without its []_D pass, as its own column beside SSD's full time."""
    return replace(o, label=f"{o.column} w/o []_D", values={"t": o.values["t"] - o.importance_d_s},
                   importance_d_s=None, cached_t=False)


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
    cached: set[str] = set()
    base = {o.column: o.method for o in obs}
    for o in obs:
        value = o.values.get(metric)
        if value is not None and math.isinf(value):
            log.warning("%s of %s (seed %d, forget %s) is %s: left out of its cell, which cannot average it.",
                        metric, o.column, o.seed, o.forget, value)
        elif value is not None and not math.isnan(value):
            values[o.column].append(value)
            if metric == "t" and o.cached_t:
                cached.add(o.column)
    for column in method_columns([o for o in obs if o.column in values]):
        v = values[column]
        paper = paper_value(table_id, paper_model, dataset, task, forget, metric, base[column])
        low, high = bootstrap_interval(v)
        row.cells[column] = Cell(statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v), paper,
                                 low=low, high=high, cached=column in cached, values=tuple(v))
    row.verdict = verdict(values, base, metric)
    row.closest = [row.verdict.winner] if row.verdict.winner else []
    for method in row.closest:
        row.cells[method].bold = True
    paper = {m: v.mean for m in METHOD_ORDER
             if (v := paper_value(table_id, paper_model, dataset, task, forget, metric, m))}
    row.paper_closest = sorted(_winners(paper, metric), key=method_rank)
    return row


def verdict(values: dict[str, list[float]], base: dict[str, str], metric: str) -> Verdict:
    """Closest to retrain over the seeds, the baseline competing (doing nothing can be closest);
    for t the fastest, the baseline (which does nothing) left out."""
    retrain = [v for c, vs in values.items() if base[c] == "retrain" for v in vs]
    if metric == "t":
        return closest_to(None, {c: v for c, v in values.items() if base[c] != "baseline"}, lower_is_better=True)
    return closest_to(retrain, {c: v for c, v in values.items() if base[c] != "retrain"})


def _winners(values: dict[str, float], metric: str) -> set[str]:
    """The paper's methods closest to retrain by their means (for t: the fastest), the baseline
    competing except on t."""
    ref = values.get("retrain")
    scores = {m: (v if metric == "t" else abs(v - ref)) for m, v in values.items()
              if m != ("baseline" if metric == "t" else "retrain") and (metric == "t" or ref is not None)}
    if not scores:
        return set()
    best = min(scores.values())
    return {m for m, s in scores.items() if s <= best + TIE}
