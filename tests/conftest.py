"""Shared fixtures: configs composed the way the CLI composes them, on tiny, fast settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from unlearn_bench.conf import CONF_DIR
from unlearn_bench.metrics.reference_memo import REFERENCE_MEMO

os.environ.setdefault("WANDB_MODE", "disabled")
# the tests start small grids at the default scale=paper on purpose (test_grid_guard.py checks the guard)
os.environ["UNLEARN_BENCH_CONFIRM_GRIDS"] = "1"

REPO = Path(__file__).resolve().parents[1]
CONF = CONF_DIR

# tiny but real: 3 epochs on digits trains a model that is far above chance
FAST = ["training.epochs=3", "training.milestones=[2]", "trainer.enable_progress_bar=false",
        "trainer.accelerator=cpu"]


@pytest.fixture(autouse=True)
def fresh_reference_memo():
    """Each test starts without the reference models' results of an earlier test in this process."""
    REFERENCE_MEMO.clear()
    yield
    REFERENCE_MEMO.clear()


@pytest.fixture(scope="module")
def one_thread():
    """Two cores shared with other jobs: one torch thread is many times faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_cfg(tmp_path):
    """compose(overrides) with caches and outputs under tmp_path."""

    def _make(*overrides: str, fast: bool = True):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(
                config_name="config",
                overrides=[f"paths.root_dir={tmp_path}", f"paths.output_dir={tmp_path}/out",
                           *(FAST if fast else []), *overrides],
            )

    yield _make
    GlobalHydra.instance().clear()
