"""The lenses end to end: results.json, the console run, a metrics logger, and U-LiRA's shadow
models trained once through the model store and reused by the next method."""

from __future__ import annotations

import csv
import json

from unlearn_bench.experiment.runner import run

SMOKE = ["scale=smoke", "lenses=cpu", "lenses.ulira.shadow_pairs=1", "lenses.relearn.max_steps=5"]


def test_lenses_in_results_and_logger_and_shadows_reused(make_cfg, tmp_path):
    logger = ["+logger.csv._target_=lightning.pytorch.loggers.CSVLogger", f"+logger.csv.save_dir={tmp_path}/csv"]
    record = run(make_cfg(*SMOKE, "method=baseline", *logger))
    lenses = record["lenses"]
    assert set(lenses) >= {"js_to_gold", "zrf", "relearn", "ulira"}
    # the baseline is the original: zero JS between them, same ZRF, relearns in 0 steps
    js_original = lenses["js_to_gold"]["original"]
    assert lenses["js_to_gold"]["unlearned"] == js_original and js_original["forget_test"] > 0
    assert lenses["zrf"]["unlearned"] == lenses["zrf"]["original"]
    assert lenses["relearn"]["unlearned"]["steps"] == 0
    ulira = lenses["ulira"]
    assert ulira["n_shadows"] == 2 and ulira["unlearned"] == ulira["original"]
    assert 0 <= ulira["gold"]["auc"] <= 100 and set(ulira["gold"]) == {
        "auc", "balanced_acc", "tpr_at_1pct_fpr", "tpr_at_0p1pct_fpr"}
    assert record["lens_columns"]["unlearned"]["RL"] == 0 and record["lens_columns"]["gold"]["JSf"] == 0.0
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["lenses"]["ulira"]["n_forget"] == ulira["n_forget"] > 0
    (metrics_csv,) = (tmp_path / "csv").rglob("metrics.csv")
    header = next(csv.reader(metrics_csv.open()))
    assert {"lenses/zrf/unlearned", "lenses/ulira/unlearned/auc", "lenses/relearn/gold/steps"} <= set(header)

    models = sorted((tmp_path / ".cache/unlearn_bench/models").glob("*.safetensors"))
    assert len(models) == 4  # original, gold, two shadows
    again = run(make_cfg(*SMOKE, "method=finetune", "method.epochs=1", f"paths.output_dir={tmp_path}/out2"))
    assert sorted((tmp_path / ".cache/unlearn_bench/models").glob("*.safetensors")) == models  # nothing retrained
    assert again["lenses"]["ulira"]["gold"] == ulira["gold"]  # same shadows, same gold model
