"""The report says under a table which runs diverged or destroyed the model (their results.json warnings)."""

from __future__ import annotations

from test_report import record, write
from unlearn_bench.metrics.split_metrics import chance_level_warning
from unlearn_bench.report.collect import load_records, observations
from unlearn_bench.report.render import to_latex, to_markdown
from unlearn_bench.report.tables import build_tables

DIVERGED = ("the unlearned model has non-finite weights (3 of 12 tensors): the method diverged; its accuracies "
            "count non-finite outputs as wrong and its MIA is undefined (NaN).")


def _table(tmp_path, warnings_of):
    for seed in (0, 1, 2):
        for method in ("baseline", "retrain", "neggrad_plus", "salun"):
            rec = record(method, seed, 80.0, 10.0, 5.0, dataset="cifar10", forget="airplane")
            rec["warnings"] = warnings_of(method, seed)
            write(tmp_path, f"{method}{seed}", rec)
    (table,) = build_tables(observations(load_records([tmp_path])))
    return table


def test_diverged_and_destroyed_runs_are_named_per_column_and_seed(tmp_path):
    destroyed = chance_level_warning(10.0, 10)

    def warnings_of(method, seed):
        if method == "neggrad_plus" and seed in (0, 2):
            return [DIVERGED, destroyed]
        return [f"request 2: {destroyed}"] if method == "salun" and seed == 1 else []

    table = _table(tmp_path, warnings_of)
    assert table.outcomes == (
        "Diverged (non-finite weights: its non-finite outputs count as wrong, its MIA is undefined): neggrad_plus "
        "(airplane) on 2 of 3 seeds (seeds 0, 2). Destroyed the model (test accuracy at chance level): "
        "neggrad_plus (airplane) on 2 of 3 seeds (seeds 0, 2); salun (airplane) on 1 of 3 seeds (seed 1).")
    assert table.outcomes in to_markdown(table)
    assert "neggrad\\_plus (airplane) on 2 of 3 seeds" in to_latex(table)


def test_tables_whose_runs_all_unlearned_have_no_such_line(tmp_path):
    table = _table(tmp_path, lambda method, seed: [])
    assert table.outcomes == "" and "Diverged" not in to_markdown(table)
