"""What a finished run sends to its trackers: every result as flat 'a/b/c' values, and its row of
the report's table."""

from __future__ import annotations

import math

# the record's parts a dashboard compares runs on (config, versions and models' keys are in config)
LOGGED = ("metrics", "paper_columns", "gap_to_gold", "distance_to_gold", "tuning_objective", "js_to_gold",
          "lenses", "lens_columns", "method_report", "split", "timing", "models", "protocol")
# the report's columns (report/collect.py's Observation), one row per run
TABLE_COLUMNS = ("run", "method", "dataset", "model", "architecture", "paper_model", "task", "forget", "seed",
                 "scale", "Dr", "Df", "MIA", "t", "gap_Dr", "gap_Df", "gap_MIA", "gold_Dr", "gold_Df",
                 "gold_MIA", "distance_to_gold")


def flat_values(tree: dict, prefix: str = "") -> dict[str, float | str | bool]:
    """The leaves of `tree` as 'a/b/c' keys: numbers, strings and booleans (lists joined); NaN and
    None left out (W&B summaries hold no NaN)."""
    flat: dict = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_values(value, f"{name}/"))
        elif isinstance(value, list | tuple):
            flat[name] = ",".join(map(str, value))
        elif isinstance(value, bool | str):
            flat[name] = value
        elif isinstance(value, int | float) and not math.isnan(value):
            flat[name] = value
    return flat


def numbers(flat: dict) -> dict[str, float]:
    """The numeric values only (what a metrics logger accepts)."""
    return {k: float(v) for k, v in flat.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def summary_values(record: dict) -> dict:
    return flat_values({key: record[key] for key in LOGGED if key in record})


def table_row(record: dict, run_name: str) -> list:
    """The run's row of TABLE_COLUMNS, in the report's terms (paper names, SSD's time with its []_D)."""
    from unlearn_bench.report.collect import observation

    obs = observation(record)
    gold = record["paper_columns"].get("gold") or {}
    return [run_name, obs.method, obs.dataset, obs.model, record.get("architecture", obs.model), obs.paper_model,
            obs.task, obs.forget, obs.seed, obs.scale, *(obs.values[k] for k in ("Dr", "Df", "MIA", "t")),
            *(obs.gap[k] for k in ("Dr", "Df", "MIA")), *(gold.get(k) for k in ("Dr", "Df", "MIA")),
            record.get("distance_to_gold")]
