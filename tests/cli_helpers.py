"""Running the command line in subprocesses for the reliability tests (scale=smoke on digits)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def env() -> dict:
    path = os.pathsep.join([str(REPO / "src"), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1", "PYTHONPATH": path}


def start(root: Path, *overrides: str, cwd: Path | None = None, module: str = "unlearn_bench",
          extra_env: dict | None = None) -> subprocess.Popen:
    """`python -m unlearn_bench scale=smoke paths.root_dir=root ...`, in its own process group."""
    flags = [o for o in overrides if o.startswith("-")]  # argparse wants --multirun before the overrides
    overrides = tuple(o for o in overrides if not o.startswith("-"))
    return subprocess.Popen(
        [sys.executable, "-m", module, *flags, "scale=smoke", "trainer.accelerator=cpu", f"paths.root_dir={root}",
         *overrides],
        cwd=cwd or root, env={**env(), **(extra_env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 900) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 600) -> None:
    """Poll `predicate` until it holds; fails when `proc` exits first (with its stderr) or on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, finish(proc)[2][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)


def fast_records(root: Path, *overrides: str, multirun: bool = False, name: str | None = None) -> list[dict]:
    """`python -m unlearn_bench [--multirun] overrides` on digits with conftest.FAST, one thread, W&B off;
    fails with its stderr unless it exits 0; the results records it wrote (one per job); they go to root/name (default: sweep or run)."""
    from conftest import FAST

    out = root / (name or ("sweep" if multirun else "run"))
    where = f"hydra.sweep.dir={out}" if multirun else f"hydra.run.dir={out}"
    result = subprocess.run(
        [sys.executable, "-m", "unlearn_bench", *(["--multirun"] if multirun else []), *overrides,
         f"paths.root_dir={root}", where, *FAST],
        cwd=REPO, env={**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"},
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    pattern = "*/results.json" if multirun else "results.json"
    return [json.loads(p.read_text()) for p in sorted(out.glob(pattern))]
