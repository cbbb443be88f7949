"""The training benchmark: every variant timed alike, the recipes trained by the pipeline's code."""

from __future__ import annotations

import json

from fixture_data import write_cifar10
from unlearn_bench.bench import train as bench


def test_the_throughput_section_times_both_stems_in_fp32_and_channels_last(tmp_path):
    result = bench.main(["--train-images", "32", "--batch", "16", "--repeats", "2", "--no-processes",
                         "--bf16", "never", "--out", str(tmp_path)])
    assert set(result["throughput"]) == {"conv fp32", "conv fp32 channels_last", "whiten fp32",
                                         "whiten fp32 channels_last"}
    for timing in result["throughput"].values():
        assert len(timing["runs_s"]) == 2
        assert timing["images_per_s"] == 32 / (sum(timing["runs_s"]) / 2)  # the median of two runs
    assert json.loads((tmp_path / "train_bench.json").read_text())["throughput"] == result["throughput"]
    assert "| whiten fp32 channels_last |" in (tmp_path / "train_bench.md").read_text()


def test_the_processes_section_adds_up_one_thread_processes(tmp_path):
    result = bench.processes("whiten", images=16, batch=16, repeats=1)
    many = result["runs_s"]["many"]
    assert len(many) == result["processes"] == result["cores"]
    assert result["processes_images_per_s"] == sum(16 / runs[0] for runs in many)
    assert result["ratio"] == result["processes_images_per_s"] / result["one_process_images_per_s"]


def test_time_to_accuracy_trains_each_recipe_as_the_pipeline_does(tmp_path):
    root = write_cifar10(tmp_path / "cifar", per_class=6, test_per_class=2)
    result = bench.main(["--data", str(root), "--seeds", "0", "--recipes", "previous", "current",
                         "--override", "dataset.train_subset=null", "training.epochs=1",
                         f"paths.root_dir={tmp_path}", "--train-images", "16", "--batch", "16",
                         "--repeats", "1", "--no-processes", "--bf16", "never", "--out", str(tmp_path / "out")])
    runs = result["time_to_accuracy"]
    assert set(runs) == {"previous", "current"}
    (previous,), (current,) = runs["previous"], runs["current"]
    assert previous["train_images"] == current["train_images"] == 54  # 60 less the 10 % validation split
    assert (previous["epochs"], current["epochs"]) == (1, 1)
    assert (previous["channels_last"], current["channels_last"]) == (False, True)
    assert (previous["stem"], previous["head_scale"], current["stem"], current["head_scale"]) == ("conv", 1, "whiten", 0.2)
    assert 0 <= current["test_acc"] <= 100 and previous["precision"] == "32-true"


def test_the_markdown_counts_the_best_epoch_from_one():
    run = {"seed": 0, "precision": "32-true", "channels_last": True, "epochs": 7, "wall_s": 426.0,
           "best_val_acc": 82.8, "best_epoch": 6, "test_acc": 82.84}
    result = {"machine": "cpu", "vector_flags": ["avx2"], "cores": 2, "threads": 2, "torch": "2", "native_bf16": False,
              "batch": 128, "repeats": 3, "train_images": 2560, "throughput": {}, "bench_s": 1.0,
              "time_to_accuracy": {"current": [run]}}
    assert "| current | 0 | 32-true + channels_last | 7 | 426 | 82.80 (7) | 82.84 |" in bench.markdown(result)
