"""Sequential-request records in the report: kept out of the paper's tables, drawn as a
degradation curve, and tabulated per request with intervals over seeds."""

from __future__ import annotations

from test_report import PNG_MAGIC, record, write
from unlearn_bench.report.__main__ import main as report_main


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
