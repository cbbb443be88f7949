"""scripts/device_check.sh --dry-run: the GPU check's steps, tiny, on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_device_check_dry_run_prints_the_tables(tmp_path):
    env = {**os.environ, "PY": sys.executable, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1",
           "WANDB_MODE": "disabled"}
    result = subprocess.run([str(REPO / "scripts" / "device_check.sh"), "--dry-run", "--out", str(tmp_path)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "nothing to install" in out
    assert (tmp_path / "bench" / "data_bench.json").is_file() and (tmp_path / "bench" / "data_bench.md").is_file()
    for method in ("baseline", "ssd", "finetune"):
        assert f"=== method={method}" in out
    assert out.count("gap to gold") == 3 and "ResNet18 epoch (CUDA only)" in out


def test_device_check_refuses_unknown_arguments():
    result = subprocess.run([str(REPO / "scripts" / "device_check.sh"), "--fast"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown argument --fast" in result.stderr
