"""Runs never share a folder, and a results write never replaces another run's results."""

from __future__ import annotations

import json

import yaml

from cli_helpers import finish, start
from unlearn_bench.experiment.record import write_results


def test_results_writes_into_one_folder_never_overwrite(tmp_path, caplog):
    paths = [write_results({"run": i}, tmp_path) for i in range(3)]
    assert [p.name for p in paths] == ["results.json", "results-2.json", "results-3.json"]
    assert [json.loads(p.read_text())["run"] for p in paths] == [0, 1, 2]
    assert "holds another run's results.json" in caplog.text


def test_three_runs_started_at_once_keep_separate_results(tmp_path):
    seeds = (0, 1, 2)
    procs = [start(tmp_path, "method=baseline", f"eval_batch_size={64 * (s + 1)}", "dataset.train_subset=200")
             for s in seeds]
    for proc in procs:
        code, out, err = finish(proc)
        assert code == 0, err[-3000:]
    folders = sorted(p.parent for p in (tmp_path / "outputs").rglob("results.json"))
    assert len(folders) == 3 and len({f.name for f in folders}) == 3
    batch_sizes = set()
    for folder in folders:
        record = json.loads((folder / "results.json").read_text())
        overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
        assert f"eval_batch_size={record['config']['eval_batch_size']}" in overrides
        batch_sizes.add(record["config"]["eval_batch_size"])
    assert batch_sizes == {64, 128, 192}
