"""What the population lenses cost: a table of methods run twice from cold model stores, without and
with the NeurIPS'23 challenge score and KLoM (lenses.challenge.n = N), one process after the other.

    python -m unlearn_bench.bench.lens_cost --methods baseline,finetune,ssd --n 32 --out docs/results/privacy/cost

Reports the wall time of each table and their ratio (the issue's target: ≤ 3× for N = 32 on digits
with 14 methods), each lens's seconds per run (results.json timing.lenses_s: medians over the
methods), and the store's reuse: the retrained models the population lens needs across the table
(N per method) against those it trained (N once per seed and request, shared by every method).
`--override` passes further overrides to both tables (e.g. scale=cpu, a dataset); the tables run in
`--root` (default: a temporary folder), each in a store of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unlearn_bench.bench.output import write_result


def _table(root: Path, methods: list[str], seed: int, overrides: list[str], extra: list[str]) -> tuple[float, list[dict]]:
    """Run the multirun table in `root`; its wall seconds and its records."""
    sweep = root / "sweep"
    command = [sys.executable, "-m", "unlearn_bench", "-m", f"method={','.join(methods)}", f"seed={seed}",
               f"paths.root_dir={root}", f"hydra.sweep.dir={sweep}", "trainer.enable_progress_bar=false",
               *overrides, *extra]
    env = {**os.environ, "WANDB_MODE": "disabled", "UNLEARN_BENCH_CONFIRM_GRIDS": "1"}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"The table failed ({' '.join(command)}):\n{done.stderr[-3000:]}")
    return seconds, [json.loads(p.read_text()) for p in sorted(sweep.rglob("results.json"))]


def stored_models(root: Path) -> int:
    return len(list((root / ".cache" / "unlearn_bench" / "models").glob("*.safetensors")))


def lens_seconds(records: list[dict]) -> dict[str, float]:
    """Each lens's median wall seconds over the records that ran it."""
    found: dict[str, list[float]] = {}
    for record in records:
        for lens, seconds in ((record.get("timing") or {}).get("lenses_s") or {}).items():
            found.setdefault(lens, []).append(seconds)
    return {lens: statistics.median(values) for lens, values in sorted(found.items())}


def summarise(without_s: float, with_s: float, n: int, methods: int, trained_without: int, trained_with: int,
              records_with: list[dict]) -> dict:
    """The cost figures of one pair of tables (`trained_*`: models each table's store ended with)."""
    needed = n * methods
    population_trained = trained_with - trained_without
    return {"n": n, "methods": methods, "table_without_s": without_s, "table_with_s": with_s,
            "ratio": with_s / without_s, "lens_seconds": lens_seconds(records_with),
            "retrained_needed": needed, "retrained_trained": population_trained,
            "store_reuse": 1 - population_trained / needed if needed else None}


def markdown(result: dict) -> str:
    lines = [f"# Population lens cost ({result['methods']} methods, N = {result['n']}, seed {result['seed']})", "",
             f"Overrides: `{' '.join(result['overrides']) or '(none)'}`", "",
             "| table | wall (s) |", "|---|---|",
             f"| without the population lenses | {result['table_without_s']:.1f} |",
             f"| with the challenge score and KLoM | {result['table_with_s']:.1f} |",
             f"| ratio | {result['ratio']:.2f}× |", "",
             f"Retrained models: {result['retrained_needed']} needed across the table (N per method); the "
             f"population lenses trained {result['retrained_trained']} models (store reuse "
             f"{100 * result['store_reuse']:.0f} %; method=retrain's own population adds N).", "",
             "| lens | median s per run |", "|---|---|",
             *[f"| {lens} | {s:.2f} |" for lens, s in result["lens_seconds"].items()]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m unlearn_bench.bench.lens_cost", description=__doc__.split("\n")[0])
    p.add_argument("--methods", default="baseline,finetune,ssd", help="comma-separated methods of the table")
    p.add_argument("--n", type=int, default=32, help="lenses.challenge.n")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--override", nargs="*", default=[], help="overrides of both tables, e.g. task=random")
    p.add_argument("--root", default=None, help="where the tables run (default: a temporary folder)")
    p.add_argument("--out", default="bench_results")
    args = p.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.root or scratch)
        plain, populated = root / "without", root / "with"
        for folder in (plain, populated):
            folder.mkdir(parents=True, exist_ok=False)
        without_s, _ = _table(plain, methods, args.seed, args.override, [])
        with_s, records = _table(populated, methods, args.seed, args.override,
                                 ["lenses.challenge.enabled=true", "lenses.klom.enabled=true",
                                  f"lenses.challenge.n={args.n}"])
        result = {**summarise(without_s, with_s, args.n, len(methods), stored_models(plain),
                              stored_models(populated), records),
                  "seed": args.seed, "overrides": args.override, "method_names": methods}
    write_result(args.out, "lens_cost", result, markdown(result))
    return result


if __name__ == "__main__":
    main()
