"""The data-path benchmark times old and new paths alike: both after the same warm-up, same repeats."""

from __future__ import annotations

import torch

from unlearn_bench.bench.data import data_path, load_images, timed


def test_timed_runs_the_warmup_untimed_then_the_repeats():
    calls = []
    runs = timed(lambda: calls.append(1), torch.device("cpu"), repeats=3, warmup=2)
    assert len(calls) == 5 and len(runs) == 3


def test_both_data_paths_get_the_same_number_of_timed_epochs():
    split = load_images(None, 64)
    result = data_path(split, split.subset(torch.arange(32)), torch.device("cpu"), batch=16, repeats=2)
    assert len(result["old_s"]) == len(result["new_s"]) == 2
    assert (result["old_images"], result["new_images"]) == (32, 64)
    assert result["old_images_per_s"] == 32 / (sum(result["old_s"]) / 2)  # the median of two runs
