"""Maps run in separate processes merge into one report."""

import json

import pytest

from unlearn_bench.bench.ssd_rule_report import main, merge


def row(seed: int, target: str, rule: str, distance: float, dataset: str = "cifar10") -> dict:
    return {"dataset": dataset, "task": "class", "seed": seed, "class": target, "rule": rule,
            "Dr": 80.0, "Df": 1.0, "MIA": 2.0, "distance_to_gold": distance, "retain_drop": 0.5,
            "alpha": 3.0, "lambda": 1.0, "params_changed_pct": 0.1,
            "gold": {"Dr": 81.0, "Df": 0.0, "MIA": 15.0}, "original": {"Dr": 80.5, "Df": 90.0, "MIA": 50.0}}


def test_merge_keeps_every_cell_once_and_refuses_disagreeing_maps():
    a = [row(0, "airplane", "assd", 4.0), row(0, "cat", "assd", 6.0)]
    b = [row(1, "airplane", "assd", 2.0), row(0, "cat", "assd", 6.0)]  # one cell both ran
    assert merge([a, b]) == [a[0], a[1], b[0]]
    with pytest.raises(ValueError, match="seed 0, target 'cat', rule 'assd'"):
        merge([a, [row(0, "cat", "assd", 7.0)]])
    with pytest.raises(ValueError, match="several datasets"):
        merge([a, [row(0, "0", "assd", 1.0, dataset="digits")]])


def test_report_cli_writes_the_merged_map_with_seeds_per_target(tmp_path):
    parts = [[row(0, "airplane", "assd", 4.0), row(1, "airplane", "assd", 2.0)], [row(0, "cat", "assd", 6.0)]]
    files = []
    for i, part in enumerate(parts):
        files.append(tmp_path / f"part{i}.json")
        files[-1].write_text(json.dumps(part))
    out = tmp_path / "merged"
    main([*map(str, files), "--out", str(out)])
    assert len(json.loads((out / "rows.json").read_text())) == 3
    table = (out / "tables.md").read_text()
    assert "merged from maps run separately" in table
    assert "| *seeds* | 2 | 1 |" in table
    assert "| assd | 3.00 | 6.00 |" in table  # airplane: mean of seeds 0 and 1
    assert "| assd | 4.50 |" in table  # summary: the mean of the two targets' means
    assert (out / "distance_to_gold.png").stat().st_size > 0
    main([*map(str, files), "--out", str(tmp_path / "seed1"), "--seeds", "1"])
    assert [(r["seed"], r["class"]) for r in json.loads((tmp_path / "seed1" / "rows.json").read_text())] == \
        [(1, "airplane")]
    assert "--seeds 1" in (tmp_path / "seed1" / "tables.md").read_text()


def test_report_cli_names_a_missing_rows_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")])
    assert "no such rows file" in capsys.readouterr().err
