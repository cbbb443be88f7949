"""What N buys in the NeurIPS'23 challenge score: the ranking of methods at smaller N, from runs made
with a large N (lenses.challenge.keep_per_model=true keeps each model's confidences and accuracies).

    python -m unlearn_bench -m method=... lenses.challenge.enabled=true lenses.challenge.n=64 \\
        lenses.challenge.keep_per_model=true hydra.sweep.dir=DIR
    python -m unlearn_bench.bench.challenge_n DIR --ns 8 16 32 --draws 20 --out docs/results/privacy/challenge_n

For every request (dataset, model, task, forget, seed) and every n ≤ N, `draws` times: n of the
retrained models (one draw shared by every method, as the store shares them) and n of each method's
unlearned models, drawn without replacement; the score of each method on them, and the methods'
ranking. Reports each method's mean score and spread per n, the mean Kendall τ of the n-ranking to
the N-ranking, and how often the N-ranking's best method is best at n.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from unlearn_bench.bench.output import write_result
from unlearn_bench.metrics.challenge import challenge_score
from unlearn_bench.report.collect import find_results

REQUEST = ("dataset", "model", "task", "forget", "seed")


def load(folders: list[str]) -> dict[tuple, dict[str, dict]]:
    """request -> method -> the challenge section's per-model data."""
    found: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for path in find_results(folders):
        record = json.loads(Path(path).read_text())
        per_model = (((record.get("lenses") or {}).get("populations") or {}).get("challenge") or {}).get("per_model")
        if per_model:
            found[tuple(record[k] for k in REQUEST)][record["method"]] = per_model
    return dict(found)


def score_of(unlearned: dict, retrained: dict, u_idx, r_idx) -> float:
    pick = lambda side, idx: (np.asarray(side["confidences"])[idx], np.asarray(side["retain_acc"])[idx],  # noqa: E731
                              np.asarray(side["test_acc"])[idx])
    (uc, ur, ut), (rc, rr, rt) = pick(unlearned, u_idx), pick(retrained, r_idx)
    return challenge_score(uc, rc, ur, rr, ut, rt).score


def kendall_tau(a: list[str], b: list[str]) -> float:
    """Kendall's τ between two orderings of the same items (1: the same order, −1: reversed)."""
    pos = {item: i for i, item in enumerate(b)}
    pairs = [(i, j) for i in range(len(a)) for j in range(i + 1, len(a))]
    if not pairs:
        return 1.0
    concordant = sum(1 if pos[a[i]] < pos[a[j]] else -1 for i, j in pairs)
    return concordant / len(pairs)


def ranking(scores: dict[str, float]) -> list[str]:
    return sorted(scores, key=lambda m: (-scores[m], m))


def analyse(requests: dict[tuple, dict[str, dict]], ns: list[int], draws: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    rows, agreement = [], []
    for request, methods in sorted(requests.items()):
        retrained = next(iter(methods.values()))["retrained"]
        full_n = len(retrained["retain_acc"])
        everyone = np.arange(full_n)
        full = {m: score_of(pm["unlearned"], pm["retrained"], everyone, everyone) for m, pm in methods.items()}
        full_rank = ranking(full)
        for n in [n for n in ns if 3 <= n <= full_n]:
            per_method: dict[str, list[float]] = defaultdict(list)
            taus, top_kept = [], 0
            for _ in range(draws):
                r_idx = rng.choice(full_n, size=n, replace=False)
                scores = {m: score_of(pm["unlearned"], pm["retrained"], rng.choice(full_n, size=n, replace=False),
                                      r_idx) for m, pm in methods.items()}
                for m, s in scores.items():
                    per_method[m].append(s)
                order = ranking(scores)
                taus.append(kendall_tau(order, full_rank))
                top_kept += order[0] == full_rank[0]
            agreement.append({"request": list(request), "n": n, "full_n": full_n, "kendall_tau": statistics.mean(taus),
                              "top_kept": top_kept / draws})
            rows += [{"request": list(request), "method": m, "n": n, "mean": statistics.mean(v),
                      "std": statistics.pstdev(v), "score_at_full_n": full[m]} for m, v in sorted(per_method.items())]
    return {"ns": ns, "draws": draws, "agreement": agreement, "scores": rows}


def markdown(result: dict) -> str:
    lines = ["# What N buys: the challenge score's ranking at smaller N", "",
             f"{result['draws']} draws per n; τ: Kendall's τ of the n-ranking to the full-N ranking; top kept: how "
             "often the full-N best method is best at n.", "",
             "| request | n (of N) | mean τ | top kept |", "|---|---|---|---|"]
    lines += [f"| {' / '.join(map(str, a['request']))} | {a['n']} ({a['full_n']}) | {a['kendall_tau']:.2f} | "
              f"{100 * a['top_kept']:.0f} % |" for a in result["agreement"]]
    lines += ["", "| request | method | n | score mean ± std | at full N |", "|---|---|---|---|---|"]
    lines += [f"| {' / '.join(map(str, r['request']))} | {r['method']} | {r['n']} | {r['mean']:.3f} ± {r['std']:.3f} "
              f"| {r['score_at_full_n']:.3f} |" for r in result["scores"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m unlearn_bench.bench.challenge_n", description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", help="run or sweep folders with lenses.challenge.keep_per_model=true")
    p.add_argument("--ns", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--draws", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench_results")
    args = p.parse_args(argv)
    requests = load(args.folders)
    if not requests:
        raise SystemExit("No results.json with the challenge's per-model data under those folders: run them with "
                         "lenses.challenge.enabled=true lenses.challenge.keep_per_model=true.")
    result = analyse(requests, args.ns, args.draws, args.seed)
    write_result(args.out, "challenge_n", result, markdown(result))
    return result


if __name__ == "__main__":
    main()
