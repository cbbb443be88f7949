"""The lens-cost benchmark: its figures from hand-made records, and one tiny run of both tables."""

from __future__ import annotations

import json

import pytest

from unlearn_bench.bench.lens_cost import lens_seconds, main, summarise


def test_the_figures_from_hand_made_records():
    records = [{"timing": {"lenses_s": {"populations": 10.0, "relearn": 1.0}}},
               {"timing": {"lenses_s": {"populations": 30.0, "relearn": 3.0}}},
               {"timing": {"lenses_s": {"populations": 20.0}}}, {"timing": {}}]
    assert lens_seconds(records) == {"populations": 20.0, "relearn": 2.0}
    result = summarise(100.0, 250.0, n=8, methods=4, trained_without=2, trained_with=10, records_with=records)
    assert result["ratio"] == 2.5 and result["retrained_needed"] == 32 and result["retrained_trained"] == 8
    assert result["store_reuse"] == pytest.approx(0.75)


def test_both_tables_run_and_the_retrained_models_are_shared(tmp_path):
    result = main(["--methods", "baseline,finetune", "--n", "3", "--root", str(tmp_path / "runs"),
                   "--out", str(tmp_path / "out"),
                   "--override", "scale=smoke", "trainer.accelerator=cpu", "task=random", "task.n_forget=20"])
    assert result["retrained_needed"] == 6 and result["retrained_trained"] == 3  # trained once, used by both
    assert result["ratio"] > 0 and "populations" in result["lens_seconds"]
    assert json.loads((tmp_path / "out" / "lens_cost.json").read_text())["n"] == 3
    assert "| ratio |" in (tmp_path / "out" / "lens_cost.md").read_text()
