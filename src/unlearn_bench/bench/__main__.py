"""python -m unlearn_bench.bench [NAME] [ARGS ...]  (the console script unlearn-bench-bench)

NAME picks one of the benchmarks below (each also runs as its own module, python -m
unlearn_bench.bench.<module>); without NAME, the importance-pass benchmark. NAME --help: its options.
"""

from __future__ import annotations

import sys
from importlib import import_module

DEFAULT = "importance"
# name: (module under unlearn_bench.bench, what it measures)
BENCHES = {
    "importance": ("importance_bench", "SSD's importance pass and what a stored []_D saves"),
    "data": ("data", "the batched on-device data path against the per-sample one"),
    "train": ("train", "the CPU training preset's speed and time to accuracy"),
    "fisher_vs_ssd": ("fisher_vs_ssd", "Fisher Forgetting against SSD"),
    "protocol_parity": ("protocol_parity", "protocol=ours against protocol=official, from two grids' results"),
    "ssd_alpha_sweep": ("ssd_alpha_sweep", "SSD's α on every class of a dataset"),
    "ssd_rule_map": ("ssd_rule_map", "where each SSD α rule works, against the gold model"),
    "ssd_rule_report": ("ssd_rule_report", "the SSD rule map's table and figure"),
    "challenge_n": ("challenge_n", "the challenge score's ranking of methods at smaller N"),
    "lens_cost": ("lens_cost", "a table's wall time without and with the challenge score and KLoM"),
}


def listing() -> str:
    width = max(map(len, BENCHES))
    lines = [f"  {name:<{width}}  {about}{' (the default)' if name == DEFAULT else ''}"
             for name, (_, about) in BENCHES.items()]
    return "\n".join([__doc__.strip(), "", *lines])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(listing())
        return 0
    name, rest = (argv[0], argv[1:]) if argv and argv[0] in BENCHES else (DEFAULT, argv)
    import_module(f"unlearn_bench.bench.{BENCHES[name][0]}").main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
