"""The per-class SSD α sweep that chose digits' defaults runs and reports every class."""

import json

import pytest

from unlearn_bench.bench.ssd_alpha_sweep import main


@pytest.mark.slow
def test_alpha_sweep_reports_every_class_and_alpha(tmp_path, capsys):
    out = tmp_path / "rows.json"
    main(["--alphas", "2,1000", "--out", str(out), f"paths.root_dir={tmp_path}", "training.epochs=2",
          "training.milestones=[1]", "trainer.accelerator=cpu"])
    rows = json.loads(out.read_text())
    assert len(rows) == 20 and {r["alpha"] for r in rows} == {2.0, 1000.0}
    # α = 1000 selects (almost) nothing: the model stays the original
    for row in rows:
        if row["alpha"] == 1000.0:
            assert row["params_changed_pct"] < 1.0
    assert "α=2: " in capsys.readouterr().out
