"""The SSD rule map runs every rule as the real method and writes its table and figure."""

import json

import pytest

from unlearn_bench.bench.ssd_rule_map import main


@pytest.mark.slow
def test_rule_map_scores_every_rule_against_gold(tmp_path):
    out = tmp_path / "map"
    args = ["--seeds", "0", "--classes", "3", "--mass-shares", "0.3,0.5", "--out", str(out),
            f"paths.root_dir={tmp_path}", "training.epochs=2", "training.milestones=[1]", "trainer.accelerator=cpu"]
    main(args)
    rows = json.loads((out / "rows.json").read_text())
    main([*args, "--resume"])  # every cell is there: nothing reruns, nothing doubles
    assert json.loads((out / "rows.json").read_text()) == rows
    rules = [r["rule"] for r in rows]
    assert len(rules) == len(set(rules)) == 9
    assert {"assd", "lfssd preset α", "mass_share s=0.3", "mass_share s=0.5", "lfssd + mass_share s=0.5"} <= set(rules)
    assert any(rule.startswith("ssd Optuna") for rule in rules)
    for row in rows:
        gaps = [abs(row[k] - row["gold"][k]) for k in ("Dr", "Df", "MIA")]
        assert row["distance_to_gold"] == pytest.approx(sum(gaps) / 3)
        assert row["retain_drop"] == pytest.approx(row["original"]["Dr"] - row["Dr"])
    assert {r["alpha"] for r in rows if r["rule"] == "ssd α=10 (paper)"} == {10.0}
    table = (out / "tables.md").read_text()
    assert "| assd |" in table and "target met" in table and "seed 0 only" in table
    assert (out / "distance_to_gold.png").stat().st_size > 0
