"""The protocol-parity summary pairs runs by seed and reports both protocols' means."""

from __future__ import annotations

import json

from unlearn_bench.bench.protocol_parity import main


def write(root, name, protocol, seed, dr, df, mia, changed):
    record = {"dataset": "digits", "model": "cnn", "task": "class", "forget": "4", "method": "ssd",
              "seed": seed, "protocol": {"name": protocol},
              "paper_columns": {"unlearned": {"Dr": dr, "Df": df, "MIA": mia}},
              "method_report": {"params_changed": changed}}
    (root / name).mkdir(parents=True)
    (root / name / "results.json").write_text(json.dumps(record))


def test_pairs_and_means(tmp_path):
    write(tmp_path, "a", "ours", 0, 90.0, 10.0, 5.0, 100)
    write(tmp_path, "b", "official", 0, 90.0, 30.0, 5.0, 80)
    write(tmp_path, "c", "ours", 1, 92.0, 20.0, 7.0, 120)
    write(tmp_path, "d", "official", 1, 92.0, 20.0, 7.0, 120)
    write(tmp_path, "e", "ours", 2, 0.0, 0.0, 0.0, 0)  # no official partner: left out
    rows = main([str(tmp_path), "--out", str(tmp_path / "out")])
    assert len(rows) == 1
    row = rows[0]
    assert row["seeds"] == [0, 1] and row["seeds_differing"] == 1
    assert (row["Df_ours"], row["Df_official"]) == (15.0, 25.0)
    assert (row["params_changed_ours"], row["params_changed_official"]) == (110.0, 100.0)
    assert "| 15.00 → 25.00 |" in (tmp_path / "out" / "protocol_parity.md").read_text()
