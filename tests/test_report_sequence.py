"""Sequential-request records in the report: kept out of the paper's tables, drawn as a
degradation curve, and tabulated per request with intervals over seeds."""

from __future__ import annotations

from test_report import PNG_MAGIC, record, write
from unlearn_bench.report.__main__ import main as report_main
from unlearn_bench.report.sequence import _curves, _per_request, curve_points
from unlearn_bench.report.stats import bootstrap_interval


def sequence_record(method: str, seed: int, dists: list[float]) -> dict:
    rec = record(method, seed, 90.0, 0.0, 5.0, dataset="digits", task="random", forget="30 random samples")
    rec["requests"] = len(dists)
    rec["sequence"] = [{"request": k + 1, "distance_to_gold": d,
                        "paper_columns": {"unlearned": {"Dr": 90.0 - d, "Df": 95.0, "MIA": 5.0},
                                          "gold": {"Dr": 90.0, "Df": 94.0, "MIA": 4.0}}}
                       for k, d in enumerate(dists)]
    return rec


def test_sequences_get_a_degradation_table_and_figure_not_a_paper_table(tmp_path):
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        write(runs, f"ssd{seed}", sequence_record("ssd", seed, [1.0, 2.0 + seed, 3.0]))
        write(runs, f"finetune{seed}", sequence_record("finetune", seed, [5.0, 5.0, 5.0 + seed]))
    recompute = sequence_record("ssd", 0, [1.0, 1.0, 1.0])
    recompute["recompute_importance"] = True
    recompute["config"]["sequential"] = {"recompute_importance": True}
    write(runs, "ssd_recompute", recompute)
    out = tmp_path / "report"
    assert report_main([str(runs), "--out", str(out)]) == 0
    md = (out / "tables.md").read_text()
    assert "# Regenerated tables (0 runs)" in md and "### digits" not in md  # no single-request table
    assert "### Sequential forgetting: digits random, resnet18, 3 requests [scale=paper] (n = 1–3 seeds)" in md
    assert "| request | finetune | ssd | ssd (recompute []_D) | closest to gold |" in md
    assert "| 1 | 5.00 [5.00, 5.00] | 1.00 [1.00, 1.00] | 1.00 | tie (ssd, ssd (recompute []_D)) |" in md
    assert "| 2 | 5.00 [5.00, 5.00] | 3.00 [2.00, 4.00] | 1.00 | tie (ssd (recompute []_D), ssd) |" in md
    assert "| 3 | 6.00 [5.00, 7.00] | 3.00 [3.00, 3.00] | 1.00 | tie (ssd (recompute []_D), ssd) |" in md
    assert (out / "degradation.png").read_bytes()[:4] == PNG_MAGIC


def test_degradation_curves_are_the_mean_and_bootstrap_interval_over_seeds_with_gold_once_per_seed():
    records = [sequence_record("ssd", seed, [1.0 + seed, 4.0 * seed]) for seed in (0, 1, 2)]
    records += [sequence_record("finetune", seed, [5.0, 5.0]) for seed in (0, 1, 2)]
    for seed, rec in enumerate(records[:3]):  # one gold model per seed, shared by both methods
        for step in rec["sequence"]:
            step["paper_columns"]["gold"]["Dr"] = 80.0 + seed
    curves = next(iter(_curves(records).values()))
    assert curves["ssd"]["Dr"] == [[89.0, 90.0], [88.0, 86.0], [87.0, 82.0]]
    assert len(curves["gold"]["Dr"]) == 3  # not once per method
    means, lows, highs = curve_points(_per_request(curves["ssd"]["Dr"]))
    assert means == [88.0, 86.0]
    assert (lows[0], highs[0]) == bootstrap_interval([89.0, 88.0, 87.0]) and lows[0] < 88.0 < highs[0]
    assert (lows[1], highs[1]) == bootstrap_interval([90.0, 86.0, 82.0]) and lows[1] < 86.0 < highs[1]
    assert curve_points(_per_request([[3.0, 4.0]])) == ([3.0, 4.0], [3.0, 4.0], [3.0, 4.0])  # one seed: no width
