"""Where each SSD α rule works: every class of a dataset × seeds × rules, against the gold model.

    python -m unlearn_bench.bench.ssd_rule_map --dataset digits [--seeds 0,1,2] [--out DIR] [overrides ...]

For each seed and class it trains (or reads from the model store) the original and the gold model
at `scale=cpu`, then runs every rule as the real method (`method.unlearn` on a context that holds no
gold model) and scores it like the pipeline: Dr, Df, MIA (the paper's columns), distance to gold,
and the drop of retain-test accuracy against the original. Writes rows.json, tables.md and
distance_to_gold.png to DIR (default docs/results/ssd_rules/<dataset>/), see `ssd_rule_report`;
rows.json is written after every class, and `--resume` keeps the cells it already holds.

The rules: SSD at the paper's α = 10; SSD at the config's preset α for the dataset; SSD at the
Optuna-tuned α of the dataset where one is documented (the upper bound that needed the gold model);
ASSD; LFSSD at the preset α; LFSSD with ASSD's rule; our mass_share rule at each share given, and
with LFSSD's importances at the default share 0.5.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from unlearn_bench.bench.ssd_rule_report import write_report
from unlearn_bench.conf import CONF_DIR
from unlearn_bench.data.forget import ClassTask
from unlearn_bench.errors import build
from unlearn_bench.metrics.evaluate import SPLITS, evaluate, paper_columns
from unlearn_bench.metrics.objective import distance_to_gold
from unlearn_bench.pipeline import Experiment, build_context, load_data, split_sets, train_models
from unlearn_bench.training.store import ModelStore

log = logging.getLogger("ssd_rule_map")
CONF = CONF_DIR


# Optuna-tuned (α, λ) per dataset at scale=cpu, CNN, class forgetting: docs/results/scale_cpu/README.md
# (TPE, 50 trials, class 4, seed 0, minimising distance to gold).
TUNED = {"digits": (0.230, 0.612)}


def rules(dataset: str, mass_shares: list[float]) -> dict[str, list[str]]:
    """Rule label -> Hydra overrides of the method."""
    out = {
        "ssd α=10 (paper)": ["method=ssd", "method.alpha=10", "method.lambda_=1"],
        "ssd preset α": ["method=ssd"],
    }
    if dataset in TUNED:
        alpha, lambda_ = TUNED[dataset]
        out[f"ssd Optuna α={alpha:g} λ={lambda_:g}"] = ["method=ssd", f"method.alpha={alpha}",
                                                         f"method.lambda_={lambda_}"]
    out["assd"] = ["method=assd"]
    out["lfssd preset α"] = ["method=lfssd"]
    out["lfssd + assd rule"] = ["method=lfssd", "method.alpha_rule=assd", "method.lambda_=1"]
    for share in mass_shares:
        out[f"mass_share s={share:g}"] = ["method=ssd", "method.alpha_rule=mass_share",
                                          f"method.mass_share={share}", "method.lambda_=1"]
    out["lfssd + mass_share s=0.5"] = ["method=lfssd", "method.alpha_rule=mass_share", "method.mass_share=0.5",
                                       "method.lambda_=1"]
    return out


def compose_cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=["scale=cpu", "task=class", "paths.output_dir=outputs/ssd_rule_map",
                                            "trainer.enable_progress_bar=false", *overrides])


def columns(model, sets: dict, device: torch.device, batch_size: int) -> dict[str, float]:
    """The paper's Dr, Df and MIA of `model` for class forgetting."""
    return paper_columns(evaluate(model, sets, device, batch_size), "class")


def measure(dataset: str, seeds: list[int], classes: list[int] | None, rule_set: dict[str, list[str]],
            overrides: list[str], rows: list[dict], save: Callable[[list[dict]], None]) -> list[dict]:
    """Appends to `rows` the (seed, class, rule) cells it lacks, calling `save(rows)` after each class."""
    device = torch.device("cpu")
    done = {(r["seed"], r["class"], r["rule"]) for r in rows}
    for seed in seeds:
        base = [f"dataset={dataset}", f"seed={seed}", *overrides]
        cfg = compose_cfg(base)
        methods = {label: build(compose_cfg([*base, *extra]).method) for label, extra in rule_set.items()}
        data = load_data(cfg)
        store = ModelStore(Path(cfg.paths.cache_dir) / "models")
        for label in classes if classes is not None else range(data.num_classes):
            todo = {rule: m for rule, m in methods.items() if (seed, data.bundle.classes[label], rule) not in done}
            if not todo:
                continue
            exp = Experiment(cfg, data, ClassTask(forget=str(label)).split(data))
            material = exp.material()  # hashes the whole dataset: once per class
            recipe, (original, original_info), (gold, _) = train_models(exp, store, material)
            split = exp.split
            sets = {name: dataset for name, dataset in split_sets(exp, split).items() if name in SPLITS}
            reference = {"original": columns(original, sets, device, cfg.eval_batch_size),
                         "gold": columns(gold, sets, device, cfg.eval_batch_size)}
            full = build_context(exp, split, original, original_info, material, recipe, device)
            for rule, method in todo.items():
                torch.manual_seed(seed)
                start = time.perf_counter()
                unlearned = method.unlearn(copy.deepcopy(original), full.for_method(method))
                seconds = time.perf_counter() - start
                cols = columns(unlearned, sets, device, cfg.eval_batch_size)
                rows.append({
                    "dataset": dataset, "seed": seed, "class": data.bundle.classes[label], "rule": rule,
                    "method": method.name, **cols,
                    "distance_to_gold": distance_to_gold(cols, reference["gold"]),
                    "retain_drop": reference["original"]["Dr"] - cols["Dr"],
                    "gold": reference["gold"], "original": reference["original"],
                    "alpha": method.report["alpha"], "lambda": method.report["lambda"],
                    "params_changed_pct": method.report["params_changed_pct"], "method_s": seconds,
                })
                log.info("seed %d class %s %-28s α=%-9.4g Dr %6.2f Df %6.2f MIA %6.2f dist %6.2f",
                         seed, rows[-1]["class"], rule, rows[-1]["alpha"], cols["Dr"], cols["Df"], cols["MIA"],
                         rows[-1]["distance_to_gold"])
            save(rows)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--classes", default=None, help="class indices, e.g. 0,3 (default: all)")
    parser.add_argument("--mass-shares", default="0.5", help="shares s of the mass_share rule to run")
    parser.add_argument("--out", default=None, help="default: docs/results/ssd_rules/<dataset>")
    parser.add_argument("--resume", action="store_true", help="keep the cells rows.json already holds")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. paths.root_dir=/tmp/x")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    out = Path(args.out) if args.out else Path("docs") / "results" / "ssd_rules" / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    rule_set = rules(args.dataset, [float(s) for s in args.mass_shares.split(",")])
    classes = [int(c) for c in args.classes.split(",")] if args.classes else None
    start = time.perf_counter()
    rows_file = out / "rows.json"
    rows = json.loads(rows_file.read_text()) if args.resume and rows_file.exists() else []
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = measure(args.dataset, seeds, classes, rule_set, args.overrides,
                   rows, save=lambda done: rows_file.write_text(json.dumps(done, indent=1)))
    rows = [r for r in rows if r["seed"] in seeds and r["rule"] in rule_set]  # the report: this request
    write_report(rows, out, command=" ".join(["python -m unlearn_bench.bench.ssd_rule_map",
                                                  *(sys.argv[1:] if argv is None else argv)]),
                 seconds=time.perf_counter() - start)
    print(f"wrote {out}/rows.json, tables.md, distance_to_gold.png")


if __name__ == "__main__":
    main()
