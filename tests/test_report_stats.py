"""Report statistics: bootstrap intervals on fixed numbers, the closest-to-retrain verdict (ties,
the baseline competing), cached times marked, and SSD's time with and without its []_D pass."""

from __future__ import annotations

import csv

import pytest

from test_report import record, write
from unlearn_bench.report.collect import load_records, observations
from unlearn_bench.report.render import to_markdown
from unlearn_bench.report.stats import bootstrap_interval, closest_to
from unlearn_bench.report.tables import build_tables, time_tables


def test_bootstrap_interval_on_fixed_numbers():
    assert bootstrap_interval([5.0, 5.0, 5.0]) == (5.0, 5.0)
    assert bootstrap_interval([7.0]) == (7.0, 7.0)
    # two values: resampled means are a, (a+b)/2, b with probabilities ¼, ½, ¼ -> the interval is [a, b]
    assert bootstrap_interval([2.0, 4.0]) == (2.0, 4.0)
    # {0, 0, 3}: the mean of 3 draws is k ~ Binomial(3, 1/3); P(k ≤ 0) = 8/27 > 2.5 %, P(k ≤ 2) = 26/27 < 97.5 %
    assert bootstrap_interval([0.0, 0.0, 3.0]) == (0.0, 3.0)
    # same numbers, same interval (fixed resampling seed), and it narrows with more seeds
    many = [float(i % 10) for i in range(100)]
    lo, hi = bootstrap_interval(many)
    assert bootstrap_interval(many) == (lo, hi) and 3.9 < lo < 4.5 < hi < 5.1


def test_closest_needs_separated_intervals():
    retrain = [0.0, 0.0, 0.0]
    assert closest_to(retrain, {"ssd": [0.0, 1.0, 0.5], "finetune": [10.0, 12.0, 11.0]}).text() == "ssd"
    overlapping = closest_to(retrain, {"ssd": [0.0, 8.0, 1.0], "finetune": [5.0, 7.0, 6.0]})
    assert overlapping.winner is None and overlapping.tied == ("ssd", "finetune")
    assert overlapping.text() == "tie (ssd, finetune)"
    # one seed gives no spread: never a winner, however far apart the values
    assert closest_to([0.0], {"ssd": [0.0], "finetune": [50.0]}).winner is None
    assert closest_to(None, {"ssd": [1.0, 1.1], "retrain": [30.0, 31.0]}, lower_is_better=True).winner == "ssd"


def test_ssd_identical_to_the_baseline_is_a_tie_not_closest(tmp_path):
    """The new user's report: SSD changed nothing, yet was bolded closest to retrain because the
    baseline was left out of the comparison."""
    for seed in (0, 1, 2):
        for method, df in (("baseline", 90.0 + seed), ("ssd", 90.0 + seed), ("retrain", 0.0), ("finetune", 40.0 + seed)):
            write(tmp_path, f"{method}{seed}", record(method, seed, 70.0, df, 50.0, dataset="cifar10", forget="cat"))
    (table,) = build_tables(observations(load_records([tmp_path])))
    df = next(r for r in table.rows if r.metric == "Df")
    assert df.verdict.winner == "finetune"  # 40–42 against 90–92: separated
    mia = next(r for r in table.rows if r.metric == "MIA")  # every method 50: all tied, baseline included
    assert mia.verdict.winner is None and set(mia.verdict.tied) == {"baseline", "finetune", "ssd"}
    assert "ssd" not in df.closest and not df.cells["ssd"].bold
    assert "SSD forgets (Df nearer retrain's than the baseline's, separated): holds in 0/1 (not for cat)" in table.claims


def test_the_claims_count_every_model_of_a_table(tmp_path):
    """Two models forgetting the same class are two groups: SSD forgets on one, not on the other."""
    for seed in (0, 1, 2):
        for model, ssd_df in (("resnet18", 90.0 + seed), ("vit", 1.0 + seed)):
            for method, df in (("baseline", 90.0 + seed), ("ssd", ssd_df), ("retrain", 0.0)):
                write(tmp_path, f"{model}{method}{seed}", record(method, seed, 70.0, df, 50.0, model=model))
    (table,) = build_tables(observations(load_records([tmp_path])))
    assert "SSD forgets (Df nearer retrain's than the baseline's, separated): holds in 1/2 (not for resnet18 rocket)" in table.claims


def test_cached_times_are_marked_and_ssd_time_splits_into_two_columns(tmp_path):
    for seed in (0, 1):
        rec = record("retrain", seed, 90.0, 0.0, 1.0, t=30.0, dataset="cifar10", forget="cat",
                     report={"reset": "all", "gold_cache_hit": True})
        write(tmp_path, f"retrain{seed}", rec)
        ssd = {"importance_key": "k", "importance_train_s": 8.0, "importance_cache_hit": False}
        write(tmp_path, f"ssd{seed}", record("ssd", seed, 90.0, 0.0, 1.0, t=10.0 + seed, report=ssd,
                                             dataset="cifar10", forget="cat"))
    (table,) = time_tables(observations(load_records([tmp_path])))
    assert table.methods == ["retrain", "ssd", "ssd w/o []_D"]
    (row,) = table.rows
    assert row.cells["retrain"].cached and not row.cells["ssd"].cached
    assert row.cells["ssd"].mean == pytest.approx(10.5) and row.cells["ssd w/o []_D"].mean == pytest.approx(2.5)
    md = to_markdown(table)
    assert "30.0 [30.0, 30.0]† (—)" in md and "**2.5 [2.0, 3.0]** (—)" in md
    assert "SSD faster than retrain (t, separated): holds in 1/1" in md


def test_ssd_time_counts_a_d_pass_computed_by_a_replaced_duplicate_or_a_sequence(tmp_path):
    """The run that computed []_D may have been superseded by a later identical run, or be the first
    request of a sequential run: its compute time still counts for SSD runs that read the cache."""
    from unlearn_bench.report.__main__ import main as report_main

    hit = {"importance_key": "k", "importance_train_s": 0.0, "importance_cache_hit": True}
    first = record("ssd", 0, 90.0, 0.0, 1.0, t=7.0, dataset="cifar10", forget="cat",
                   report={"importance_key": "k", "importance_train_s": 6.0, "importance_cache_hit": False})
    write(tmp_path / "a", "ssd", first)
    write(tmp_path / "b", "ssd", record("ssd", 0, 90.0, 0.0, 1.0, t=1.0, dataset="cifar10", forget="cat", report=hit))
    seq = record("ssd", 1, 90.0, 0.0, 1.0, t=1.0, dataset="cifar10", forget="cat", report=hit)
    seq["sequence"] = [{"request": 1, "method_report": {"importance_key": "q", "importance_train_s": 4.0,
                                                         "importance_cache_hit": False}}]
    write(tmp_path / "c", "seq", seq)
    write(tmp_path / "d", "ssd", record("ssd", 1, 90.0, 0.0, 1.0, t=1.0, dataset="cifar10", forget="cat",
                                        report={**hit, "importance_key": "q"}))
    out = tmp_path / "report"
    assert report_main([str(tmp_path / d) for d in "abcd"] + ["--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "tables.csv").open()))
    t = {r["method"]: float(r["mean"]) for r in rows if r["metric"] == "t"}
    assert t["ssd"] == pytest.approx((7.0 + 5.0) / 2) and t["ssd w/o []_D"] == pytest.approx(1.0)
