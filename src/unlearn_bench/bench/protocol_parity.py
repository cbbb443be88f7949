"""protocol=ours vs protocol=official, same seeds: the effect of each protocol difference.

    python -m unlearn_bench -m protocol=ours,official seed=0,1 task=class method=... hydra.sweep.dir=DIR
    python -m unlearn_bench.bench.protocol_parity DIR [DIR ...] --out docs/results/protocol_parity

Pairs the results.json files under the folders by (dataset, model, task, forget, method, seed), and
writes protocol_parity.json (every pair) and protocol_parity.md: per method and task, the mean over
seeds of Dr, Df and MIA under each protocol, their difference (official − ours), and for SSD the
parameters it changed.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from unlearn_bench.report.collect import find_results

COLUMNS = ("Dr", "Df", "MIA")


def load_pairs(folders: list[str]) -> dict[tuple, dict[str, dict]]:
    """(dataset, model, task, forget, method, seed) -> {protocol: record}."""
    pairs: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for path in find_results(folders):
        record = json.loads(Path(path).read_text())
        protocol = (record.get("protocol") or {}).get("name", "ours")
        key = tuple(record[k] for k in ("dataset", "model", "task", "forget", "method", "seed"))
        pairs[key][protocol] = record
    return {k: v for k, v in pairs.items() if {"ours", "official"} <= set(v)}


def summarise(pairs: dict[tuple, dict[str, dict]]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for (dataset, model, task, forget, method, _seed), runs in pairs.items():
        groups[(dataset, model, task, forget, method)].append(runs)
    rows = []
    for (dataset, model, task, forget, method), runs in sorted(groups.items()):
        row = {"dataset": dataset, "model": model, "task": task, "forget": forget, "method": method,
               "seeds": sorted(r["ours"]["seed"] for r in runs)}
        for protocol in ("ours", "official"):
            for col in COLUMNS:
                row[f"{col}_{protocol}"] = statistics.fmean(r[protocol]["paper_columns"]["unlearned"][col] for r in runs)
            changed = [r[protocol]["method_report"].get("params_changed") for r in runs]
            if all(c is not None for c in changed):
                row[f"params_changed_{protocol}"] = statistics.fmean(changed)
        row["seeds_differing"] = sum(
            any(abs(r["ours"]["paper_columns"]["unlearned"][c] - r["official"]["paper_columns"]["unlearned"][c]) > 1e-9
                for c in COLUMNS) for r in runs)
        rows.append(row)
    return rows


def to_markdown(rows: list[dict]) -> str:
    lines = ["| dataset | task | forget | method | seeds | Dr ours → official | Df ours → official | "
             "MIA ours → official | params changed ours → official | seeds that differ |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[f'{c}_ours']:.2f} → {r[f'{c}_official']:.2f}" for c in COLUMNS]
        changed = (f"{r['params_changed_ours']:.0f} → {r['params_changed_official']:.0f}"
                   if "params_changed_ours" in r else "—")
        lines.append(f"| {r['dataset']} | {r['task']} | {r['forget']} | {r['method']} | "
                     f"{len(r['seeds'])} | {' | '.join(cells)} | {changed} | {r['seeds_differing']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m unlearn_bench.bench.protocol_parity",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--out", default="bench_results/protocol_parity")
    args = parser.parse_args(argv)
    pairs = load_pairs(args.folders)
    rows = summarise(pairs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    detail = [{"key": list(k), **{p: {"paper_columns": r["paper_columns"]["unlearned"],
                                      "method_report": r["method_report"], "protocol": r.get("protocol")}
                                  for p, r in v.items()}} for k, v in sorted(pairs.items())]
    (out / "protocol_parity.json").write_text(json.dumps({"summary": rows, "pairs": detail}, indent=1))
    (out / "protocol_parity.md").write_text(to_markdown(rows))
    print(to_markdown(rows))
    return rows


if __name__ == "__main__":
    main()
