"""Sequential forget requests in the report: the degradation curve per method (Dr and Df after each
request, the gold model retrained without everything forgotten so far as reference) and the same
numbers as a table with bootstrap intervals over seeds."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from unlearn_bench.report.figures import _save  # noqa: E402
from unlearn_bench.report.paper import method_rank  # noqa: E402
from unlearn_bench.report.stats import bootstrap_interval, closest_to  # noqa: E402
from unlearn_bench.report.style import method_color, method_marker  # noqa: E402

CURVE_METRICS = ("Dr", "Df", "MIA")


def is_sequence(record: dict) -> bool:
    return "sequence" in record


def _name(record: dict) -> str:
    """The method's column; SSD recomputing []_D after each request is its own column."""
    return record["method"] + (" (recompute []_D)" if record.get("recompute_importance") else "")


def _setting(record: dict) -> tuple:
    scale = str((record.get("config", {}).get("scale") or {}).get("name", "paper"))
    return record["dataset"], record["task"], record["model"], scale, record["requests"]


def _curves(records: list[dict]) -> dict[tuple, dict[str, dict[str, list[list[float]]]]]:
    """setting -> method (or "gold") -> metric -> per request, the seeds' values (the gold model's
    once per seed: every method of a seed shares it)."""
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    gold_seeds = set()
    for r in records:
        roles = [("unlearned", _name(r))]
        if (_setting(r), r.get("seed")) not in gold_seeds:
            gold_seeds.add((_setting(r), r.get("seed")))
            roles.append(("gold", "gold"))
        for role, name in roles:
            for metric in CURVE_METRICS:
                values = [s["paper_columns"][role].get(metric) for s in r["sequence"]]
                out[_setting(r)][name][metric].append([math.nan if v is None else v for v in values])
    return out


def _rank(name: str) -> tuple:
    return (*method_rank(name.split(" ")[0]), name)


def _per_request(runs: list[list[float]]) -> list[list[float]]:
    return [[v for v in column if not math.isnan(v)] for column in zip(*runs, strict=False)]


def curve_points(per_request: list[list[float]]) -> tuple[list[float], list[float], list[float]]:
    """Per request: the mean over seeds and the 95 % bootstrap interval's (low, high); zero width for
    one seed, nan where no seed has a value."""
    means = [statistics.fmean(v) if v else math.nan for v in per_request]
    intervals = [bootstrap_interval(v) for v in per_request]
    return means, [lo for lo, _ in intervals], [hi for _, hi in intervals]


def degradation_figure(records: list[dict], path: Path) -> Path | None:
    """Dr, Df and MIA after each request, one row of panels per setting; mean and 95 % bootstrap
    interval over seeds, the number of seeds in the legend (PNG and PDF)."""
    curves = _curves([r for r in records if is_sequence(r)])
    if not curves:
        return None
    fig, axes = plt.subplots(len(curves), len(CURVE_METRICS), figsize=(4.6 * len(CURVE_METRICS), 3.6 * len(curves)),
                             squeeze=False)
    for row, (setting, methods) in zip(axes, sorted(curves.items()), strict=True):
        dataset, task, model, scale, k = setting
        ordered = sorted((m for m in methods if m != "gold"), key=_rank)
        for ax, metric in zip(row, CURVE_METRICS, strict=True):
            for method in [*ordered, "gold"]:
                runs = methods[method][metric]
                means, lows, highs = curve_points(_per_request(runs))
                yerr = [[m - lo for m, lo in zip(means, lows, strict=True)],
                        [hi - m for m, hi in zip(means, highs, strict=True)]]
                style = ({"color": "black", "linestyle": "--", "lw": 2, "marker": None} if method == "gold" else
                         {"color": method_color(method), "marker": method_marker(method)})
                ax.errorbar(range(1, len(means) + 1), means, yerr=yerr, ms=4, capsize=2,
                            label=f"{method} (n={len(runs)})", **style)
            ax.set_xlabel("forget request")
            ax.set_ylabel(f"{metric} (%)")
            ax.set_title(f"{dataset} {task} · {model} [scale={scale}]: {metric}", fontsize=9)
        row[0].legend(fontsize=7)
    fig.suptitle("Sequential forget requests: each method on its own last output; gold = retrained without "
                 "all requests so far; mean and 95 % bootstrap interval over seeds", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


@dataclass
class SequenceTable:
    """One setting's distance to gold after each request: a title, the header and the cells as shown."""

    title: str
    header: list[str]
    rows: list[list[str]]


SEQUENCE_NOTE = ("Cells: distance to the gold model after the request (mean |gap| of Dr, Df and MIA, "
                 "points), mean [95 % bootstrap interval over seeds; none for one seed]; the gold model is retrained without "
                 "every request so far. Closest: separated from the runner-up, else tie; retrain left out "
                 "(it is the gold model).")


def degradation_tables(records: list[dict]) -> list[SequenceTable]:
    """Per setting: distance to gold (mean |gap| of Dr, Df, MIA) after each request, per method,
    mean [95 % bootstrap interval] over seeds; the closest method only where intervals separate it."""
    by_setting: dict = defaultdict(lambda: defaultdict(list))
    for r in records:
        if is_sequence(r):
            by_setting[_setting(r)][_name(r)].append([s["distance_to_gold"] for s in r["sequence"]])
    tables = []
    for (dataset, task, model, scale, k), methods in sorted(by_setting.items()):
        ordered = sorted(methods, key=_rank)
        n = sorted({len(v) for v in methods.values()})
        title = (f"Sequential forgetting: {dataset} {task}, {model}, {k} requests [scale={scale}] "
                 f"(n = {'–'.join(map(str, n))} seeds)")
        rows = [[str(step), *map(_distance_text, columns), _closest_to_gold(ordered, columns)]
                for step, columns in enumerate(zip(*(_per_request(methods[m]) for m in ordered), strict=False),
                                               start=1)]
        tables.append(SequenceTable(title, ["request", *ordered, "closest to gold"], rows))
    return tables


def _distance_text(values: list[float]) -> str:
    if not values:
        return "—"
    lo, hi = bootstrap_interval(values)
    interval = f" [{lo:.2f}, {hi:.2f}]" if len(values) > 1 else ""
    return f"{statistics.fmean(values):.2f}{interval}"


def _closest_to_gold(ordered: list[str], columns) -> str:
    return closest_to(None, {m: v for m, v in zip(ordered, columns, strict=True) if m != "retrain"},
                      lower_is_better=True).text()


def degradation_markdown(records: list[dict]) -> str:
    """degradation_tables as Markdown, each with its note."""
    parts = []
    for table in degradation_tables(records):
        parts += [f"### {table.title}", "", "| " + " | ".join(table.header) + " |",
                  "|---|" + "---|" * (len(table.header) - 1)]
        parts += ["| " + " | ".join(row) + " |" for row in table.rows]
        parts += ["", SEQUENCE_NOTE, ""]
    return "\n".join(parts)
