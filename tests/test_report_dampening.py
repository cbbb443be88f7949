"""The report says in the table, not only in prose, when SSD changed nothing measurable."""

from __future__ import annotations

import pytest

from test_report import record, write
from unlearn_bench.report.collect import load_records, observations
from unlearn_bench.report.render import to_latex, to_markdown
from unlearn_bench.report.tables import build_tables

SSD_NOTHING = {"params_changed_pct": 0.004, "alpha": 10.0}
ASSD_SOME = {"params_changed_pct": 1.5, "alpha": 3.0}


def _runs(tmp_path, seeds=(0, 1, 2), with_baseline=True):
    for seed in seeds:
        rows = [("retrain", 83.0, 0.0, 15.0, {}),
                ("ssd", 82.0 + 0.3, 87.0 + seed, 56.0 + seed, SSD_NOTHING),  # within 0.5 of the baseline
                ("assd", 83.0, 0.4 * seed, 2.0, ASSD_SOME)]
        if with_baseline:
            rows.append(("baseline", 82.0, 87.0 + seed, 56.0 + seed, {}))
        for method, dr, df, mia, report in rows:
            write(tmp_path, f"{method}{seed}", record(method, seed, dr, df, mia, dataset="cifar10", forget="airplane",
                                                      report=report))
    (table,) = build_tables(observations(load_records([tmp_path])))
    return table


def test_ssd_equal_to_the_baseline_is_called_a_change_of_nothing(tmp_path):
    table = _runs(tmp_path)
    assert table.dampening == (
        "Parameters changed by the SSD family (mean over seeds; \"baseline's row\": Dr, Df and MIA within 0.5 "
        "points of doing nothing on the same seed): assd (airplane) 1.5 %, baseline's row in 0/3 seeds; "
        "ssd (airplane) 0.004 %, baseline's row in 3/3 seeds (changes nothing measurable).")
    assert table.dampening in to_markdown(table)
    assert "changes nothing measurable" in to_latex(table)


def test_without_baseline_runs_only_the_share_is_given(tmp_path):
    table = _runs(tmp_path, seeds=(0,), with_baseline=False)
    assert table.dampening.endswith("same seed): assd (airplane) 1.5 %; ssd (airplane) 0.004 %.")


def test_tables_without_the_ssd_family_have_no_such_line(tmp_path):
    for seed in (0, 1):
        for method in ("baseline", "retrain", "finetune"):
            write(tmp_path, f"{method}{seed}", record(method, seed, 80.0, 10.0, 5.0, dataset="cifar10", forget="cat"))
    (table,) = build_tables(observations(load_records([tmp_path])))
    assert table.dampening == ""
    assert "Parameters changed" not in to_markdown(table)


def test_an_ssd_run_off_the_baseline_by_more_than_half_a_point_is_not_the_baselines_row(tmp_path):
    for method, df, report in (("baseline", 87.0, {}), ("ssd", 86.4, SSD_NOTHING), ("retrain", 0.0, {})):
        write(tmp_path, method, record(method, 0, 82.0, df, 56.0, dataset="cifar10", forget="airplane", report=report))
    (table,) = build_tables(observations(load_records([tmp_path])))
    assert "ssd (airplane) 0.004 %, baseline's row in 0/1 seeds." in table.dampening


def test_assds_time_counts_the_stored_importance_pass_like_ssds(tmp_path):
    """ASSD reads the []_D that an SSD run computed: its time includes that pass, as SSD's does."""
    from unlearn_bench.report.tables import time_tables

    computed = {"importance_key": "k", "importance_train_s": 60.0, "importance_cache_hit": False}
    read = {"importance_key": "k", "importance_train_s": 0.1, "importance_cache_hit": True}
    write(tmp_path, "ssd", record("ssd", 0, 82.0, 87.0, 56.0, t=67.0, dataset="cifar10", forget="airplane",
                                  report=computed))
    write(tmp_path, "assd", record("assd", 0, 83.0, 0.0, 2.0, t=7.0, dataset="cifar10", forget="airplane",
                                   report=read))
    (table,) = time_tables(observations(load_records([tmp_path])))
    (row,) = table.rows
    assert row.cells["assd"].mean == pytest.approx(66.9) and row.cells["assd"].cached
    assert row.cells["assd w/o []_D"].mean == pytest.approx(6.9)
