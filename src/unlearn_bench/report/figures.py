"""Figures as PNG and PDF at print resolution: Figure 2 (time per method, SSD's []_D share marked)
and the forget-gap vs retain-gap scatter (distance to the gold model per method), each method in its
own colour and marker in every panel, error bars one standard deviation over seeds (none for n = 1)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from unlearn_bench.report.collect import Observation  # noqa: E402
from unlearn_bench.report.style import FORMATS, PRINT_DPI, method_color, method_marker  # noqa: E402
from unlearn_bench.report.tables import method_columns  # noqa: E402

MAX_PANELS = 8


def _mean(values: list[float]) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.fmean(values) if values else math.nan


def _spread(values: list[float]) -> float:
    """Standard deviation over seeds, 0 for a single run (drawn as no error bar)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _save(fig, path: Path) -> Path:
    """`path` (its suffix is replaced) in every format of FORMATS; returns the PNG's path."""
    for fmt in FORMATS:
        fig.savefig(path.with_suffix(f".{fmt}"), dpi=PRINT_DPI, bbox_inches="tight")
    plt.close(fig)
    return path.with_suffix(".png")


def _method_of(obs: list[Observation], column: str) -> str:
    return next(o.method for o in obs if o.column == column)


def _panels(observations: list[Observation], key) -> dict[tuple, list[Observation]]:
    groups: dict[tuple, list[Observation]] = defaultdict(list)
    for o in observations:
        groups[key(o)].append(o)
    return dict(sorted(groups.items())[:MAX_PANELS])


def _grid(n: int, width: float = 5.0, height: float = 3.8):
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def ssd_importance_share(observations: list[Observation]) -> float | None:
    """Mean share of SSD's time spent on the training-set importances []_D."""
    shares = [o.importance_d_s / o.values["t"] for o in observations
              if o.method == "ssd" and o.importance_d_s is not None and o.values.get("t")]
    return statistics.fmean(shares) if shares else None


def time_figure(observations: list[Observation], path: Path) -> Path | None:
    """Figure 2: mean method time per method (log scale), one panel per dataset · task · model;
    SSD's bar split into its []_D pass and the rest ([]_Df and dampening)."""
    timed = [o for o in observations if o.method != "baseline" and not math.isnan(o.values.get("t", math.nan))]
    if not timed:
        return None
    panels = _panels(timed, lambda o: (o.dataset, o.task, o.model, o.scale))
    fig, axes = _grid(len(panels))
    for ax, ((dataset, task, model, scale), obs) in zip(axes, panels.items(), strict=False):
        methods = method_columns(obs)
        samples = [[o.values["t"] for o in obs if o.column == m] for m in methods]
        times = [_mean(values) for values in samples]
        bars = ax.bar(methods, times, color=[method_color(_method_of(obs, m)) for m in methods],
                      yerr=[_spread(values) for values in samples], capsize=3)
        labelled = False
        for i, column in enumerate(methods):
            ssd = [o for o in obs if o.column == column and o.method == "ssd" and o.importance_d_s is not None]
            if not ssd:
                continue
            d_time = _mean([o.importance_d_s for o in ssd])
            ax.bar([column], [d_time], color="none", edgecolor="black", hatch="//",
                   label=None if labelled else "SSD: []_D pass")
            labelled = True
            share = ssd_importance_share(ssd)
            ax.annotate(f"[]_D {100 * share:.0f}%", (bars[i].get_x() + bars[i].get_width() / 2, times[i]),
                        ha="center", va="bottom", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("time (s)")
        ax.set_title(f"{dataset} {task} · {model} [scale={scale}]", fontsize=10)
        ax.tick_params(axis="x", rotation=30, labelsize=8)
        if labelled:
            ax.legend(fontsize=7)
    fig.suptitle("Time per method (Figure 2)")
    fig.tight_layout()
    return _save(fig, path)


def gap_figure(observations: list[Observation], path: Path) -> Path | None:
    """Forget-set gap vs retain-set gap to the gold model (points per run, crosses per method mean),
    one panel per dataset · task · model; the origin is the gold model."""
    runs = [o for o in observations if not math.isnan(o.gap.get("Dr", math.nan))]
    if not runs:
        return None
    panels = _panels(runs, lambda o: (o.dataset, o.task, o.model, o.scale))
    fig, axes = _grid(len(panels))
    for ax, ((dataset, task, model, scale), obs) in zip(axes, panels.items(), strict=False):
        for column in method_columns(obs):
            mine = [o for o in obs if o.column == column]
            color, marker = method_color(mine[0].method), method_marker(mine[0].method)
            xs, ys = [o.gap["Dr"] for o in mine], [o.gap["Df"] for o in mine]
            ax.scatter(xs, ys, s=14, alpha=0.35, color=color, marker=marker, linewidths=0)
            ax.errorbar([_mean(xs)], [_mean(ys)], xerr=[_spread(xs)], yerr=[_spread(ys)], fmt=marker,
                        markersize=8, markerfacecolor="none", markeredgewidth=1.5, color=color,
                        capsize=2, elinewidth=0.8, label=column)
        ax.axhline(0, color="grey", lw=0.6)
        ax.axvline(0, color="grey", lw=0.6)
        ax.set_xlabel("retain gap to gold: Dr − Dr(gold) (points)")
        ax.set_ylabel("forget gap to gold: Df − Df(gold) (points)")
        ax.set_title(f"{dataset} {task} · {model} [scale={scale}]", fontsize=10)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, path)
