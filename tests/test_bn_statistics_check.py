"""scripts/bn_statistics_check.py: a saved unlearned model scored as it is and with the original's
BatchNorm statistics copied in."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import FAST, REPO
from unlearn_bench.experiment.runner import run

TINY = ("dataset.train_subset=300", "dataset.test_subset=100", "training.epochs=2", "training.milestones=[]",
        "lenses.relearn.enabled=false")


def _script():
    spec = importlib.util.spec_from_file_location("bn_statistics_check", REPO / "scripts" / "bn_statistics_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_check_restores_the_originals_statistics(make_cfg, tmp_path, capsys, one_thread):
    baseline = run(make_cfg("method=baseline", *TINY))
    overrides = [f"paths.root_dir={tmp_path}", *FAST, *TINY]
    _script().main([str(tmp_path / "out"), "--", *overrides])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    dr, df = (f"{baseline['metrics']['unlearned'][k]:.2f}" for k in ("retain_test_acc", "forget_test_acc"))
    # the baseline is the original: restoring its statistics changes nothing
    assert line.endswith(f"as unlearned Dr {dr} Df {df}; with the original's BatchNorm statistics Dr {dr} Df {df}")
    with pytest.raises(SystemExit, match="no original model"):
        _script().main([str(tmp_path / "out"), "--", f"paths.root_dir={tmp_path / 'empty'}", *FAST, *TINY])
