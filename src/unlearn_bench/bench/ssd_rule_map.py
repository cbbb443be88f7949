"""Where each SSD α rule works: every class of a dataset (or random forgetting) × seeds × rules,
against the gold model, with a per-dataset Optuna-tuned α as the upper bound.

    python -m unlearn_bench.bench.ssd_rule_map --dataset digits [--task class|random] [--seeds 0,1,2]
        [--tune-trials 40] [--out DIR] [overrides ...]

For each seed and forget target (every class, or 100 random samples) it trains (or reads from the
model store) the original and the gold model at `scale=cpu`, then runs every rule as the real method
(`method.unlearn` on a context that holds no gold model) and scores it like the pipeline: Dr, Df,
MIA (the paper's columns), distance to gold, and the drop of retain-test accuracy against the
original. Writes rows.json, tables.md and distance_to_gold.png to DIR (default
docs/results/ssd_rules/<dataset>[-random]/), see `ssd_rule_report`; rows.json is written after every
target, and `--resume` keeps the cells it already holds (and scores a bound it holds, at its searched
(α, λ), on the seeds and classes added).

The rules: SSD at the paper's α = 10; SSD at the config's preset α for the dataset; ASSD; LFSSD at
the preset α; LFSSD with ASSD's rule; our mass_share rule at each share given, and with LFSSD's
importances at the default share 0.5. The bound (`--tune-trials` > 0): one (α, λ) of SSD (Fisher
importances) for the whole dataset and task, searched by Optuna TPE (the paper's space: α ∈ [0.1,
100] log, λ ∈ [0.1, 5]) to minimise the mean distance to gold on the *validation* split over every
target of the tuning seeds (`--tune-seeds`, default seed 0), then scored on the test split of every
target and seed like the rules. It needs the gold model, which no
rule may read: it is the reference the rules are measured against, not a rule.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from unlearn_bench.bench.ssd_rule_report import write_report
from unlearn_bench.conf import CONF_DIR
from unlearn_bench.data.forget import ClassTask, RandomTask
from unlearn_bench.experiment.scoring import metrics_of
from unlearn_bench.experiment.setup import Experiment, load_data, split_sets
from unlearn_bench.experiment.standin import overrides_with_model, stand_in_for
from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.provenance import without_provenance
from unlearn_bench.methods.ssd import dampen
from unlearn_bench.metrics.objective import distance_to_gold
from unlearn_bench.metrics.split_metrics import paper_columns, tuning_columns
from unlearn_bench.training.store import ModelStore
from unlearn_bench.utils.errors import build

log = logging.getLogger("ssd_rule_map")
CONF = CONF_DIR
BOUND = "ssd Optuna-tuned α, λ (bound, reads gold)"
SEARCH_SPACE = {"alpha": (0.1, 100.0), "lambda_": (0.1, 5.0)}  # hparams_search/ssd_optuna.yaml's


def rules(mass_shares: list[float]) -> dict[str, list[str]]:
    """Rule label -> Hydra overrides of the method."""
    fisher = ["method=ssd", "method.estimator=batch"]  # SSD's own importances, whatever the dataset's default
    out = {
        "ssd α=10 (paper)": [*fisher, "method.alpha_rule=fixed", "method.alpha=10", "method.lambda_=1"],
        "ssd preset α": [*fisher, "method.alpha_rule=fixed"],
        "assd": ["method=assd"],
        "lfssd preset α": ["method=lfssd"],
        "lfssd + assd rule": ["method=lfssd", "method.alpha_rule=assd", "method.lambda_=1"],
    }
    for share in mass_shares:
        out[f"mass_share s={share:g}"] = [*fisher, "method.alpha_rule=mass_share",
                                          f"method.mass_share={share}", "method.lambda_=1"]
    out["lfssd + mass_share s=0.5"] = ["method=lfssd", "method.alpha_rule=mass_share", "method.mass_share=0.5",
                                       "method.lambda_=1"]
    return out


def compose_cfg(task: str, overrides: list[str]) -> DictConfig:
    """The config of a map run; `model=resnet18`/`vit` run as the scale's stand-in, as on the command line."""
    full = ["scale=cpu", f"task={task}", "paths.output_dir=outputs/ssd_rule_map", "trainer.enable_progress_bar=false",
            *overrides]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=full)
        stand_in = stand_in_for(cfg)
        return cfg if stand_in is None else compose("config", overrides=overrides_with_model(full, stand_in))


@dataclass
class Cell:
    """One forget request of the map: its models, its scorer and the context every rule is given."""

    seed: int
    target: str  # the class's name, or "random"
    task: str
    overrides: list[str]  # what composed cfg: a method's config is composed with them
    cfg: DictConfig
    original: torch.nn.Module
    context: UnlearnContext  # the full context: a method is given context.for_method(method)
    score: Callable[[torch.nn.Module], dict]
    reference: dict[str, dict]  # "original" / "gold": the models' metrics

    def method(self, extra: list[str]) -> UnlearningMethod:
        return build(without_provenance(compose_cfg(self.task, [*self.overrides, *extra]).method))

    def columns(self, metrics: dict) -> dict[str, float]:
        return paper_columns(metrics, self.task)

    def row(self, rule: str, metrics: dict, **facts) -> dict:
        cols = self.columns(metrics)
        gold, original = (self.columns(self.reference[r]) for r in ("gold", "original"))
        return {"dataset": self.cfg.dataset.name, "task": self.task, "seed": self.seed, "class": self.target,
                "rule": rule, **cols, "distance_to_gold": distance_to_gold(cols, gold),
                "val_distance_to_gold": self.val_distance(metrics),
                "retain_drop": original["Dr"] - cols["Dr"], "gold": gold, "original": original, **facts}

    def val_distance(self, metrics: dict) -> float:
        return distance_to_gold(tuning_columns(metrics, self.task), tuning_columns(self.reference["gold"], self.task))


def cells(dataset: str, task: str, seeds: list[int], classes: list[int] | None, overrides: list[str],
          wanted: Callable[[int, str], bool] = lambda seed, target: True) -> Iterator[Cell]:
    """The map's forget requests in order: per seed, every class (or the `classes` given), or one
    random draw of `task.n_forget` samples; those `wanted(seed, target)` refuses are skipped before
    any model is read or scored."""
    device = torch.device("cpu")
    for seed in seeds:
        base = [f"dataset={dataset}", f"seed={seed}", *overrides]
        cfg = compose_cfg(task, base)
        data = load_data(cfg)
        store = ModelStore(Path(cfg.paths.cache_dir) / "models")
        if task == "random":
            requests = [RandomTask(n_forget=cfg.task.n_forget, seed=seed)]
        else:
            requests = [ClassTask(forget=str(c)) for c in (classes if classes is not None else range(data.num_classes))]
        for request in requests:
            exp = Experiment(cfg, data, request.split(data), store=store, device=device)
            target = "random" if task == "random" else exp.split.target
            if not wanted(seed, target):
                continue
            (original, original_info), (gold, _) = exp.original(), exp.gold()
            score = functools.partial(metrics_of, exp, eval_sets=split_sets(exp, exp.split))
            yield Cell(seed=seed, target=target, task=task, overrides=base,
                       cfg=cfg, original=original, score=score, reference={"original": score(original), "gold": score(gold)},
                       context=exp.context(exp.split, original, original_info))


def run_rules(cell: Cell, rule_set: dict[str, list[str]], done: set) -> list[dict]:
    """The rows of every rule `done` lacks for `cell`, each run as the real method; a rule whose
    method config equals an earlier rule's (the paper's α is the preset α on most datasets) takes
    that rule's row instead of running again."""
    rows: list[dict] = []
    ran: dict[str, dict] = {}
    for rule, extra in rule_set.items():
        if (cell.seed, cell.target, rule) in done:
            continue
        method = cell.method(extra)
        key = f"{type(method).__name__} {json.dumps(vars(method), sort_keys=True, default=str)}"
        if key in ran:
            rows.append({**ran[key], "rule": rule, "same_as": ran[key]["rule"]})
            continue
        torch.manual_seed(cell.seed)
        start = time.perf_counter()
        unlearned = method.unlearn(copy.deepcopy(cell.original), cell.context.for_method(method))
        seconds = time.perf_counter() - start
        rows.append(cell.row(rule, cell.score(unlearned), alpha=method.report["alpha"],
                             **{"lambda": method.report["lambda"]},
                             params_changed_pct=method.report["params_changed_pct"], method_s=seconds))
        r = ran[key] = rows[-1]
        log.info("seed %d %s %-28s α=%-9.4g Dr %6.2f Df %6.2f MIA %6.2f dist %6.2f", cell.seed, cell.target,
                 rule, r["alpha"], r["Dr"], r["Df"], r["MIA"], r["distance_to_gold"])
    return rows


class Bound:
    """SSD with one (α, λ) on every cell: the Fisher importances are computed once per cell, each
    trial dampens a copy of the original and scores it."""

    def __init__(self, cells: list[Cell]):
        self.cells: list[Cell] = []
        self.importances: list[tuple] = []
        self.add(cells)

    def add(self, cells: list[Cell]) -> None:
        for cell in cells:
            self.cells.append(cell)
            ssd = cell.method(["method=ssd", "method.estimator=batch"])
            ctx = cell.context.for_method(ssd)
            self.importances.append((ssd.train_importance(cell.original, ctx)[0],
                                     ssd.importance(cell.original, ctx, ctx.forget_set, "importance []_Df")))

    def metrics(self, alpha: float, lambda_: float) -> list[tuple[dict, float]]:
        """Per cell: the dampened model's metrics and the share of parameters changed (%)."""
        out = []
        for cell, (imp_train, imp_forget) in zip(self.cells, self.importances, strict=True):
            model = copy.deepcopy(cell.original)
            changed, total = dampen(model, imp_train, imp_forget, alpha, lambda_)
            out.append((cell.score(model), 100.0 * changed / max(total, 1)))
        return out

    def search(self, trials: int, seed: int = 0) -> tuple[float, float, float]:
        """(α, λ, mean validation distance) of the best of `trials` TPE trials."""
        def objective(trial: optuna.Trial) -> float:
            alpha = trial.suggest_float("alpha", *SEARCH_SPACE["alpha"], log=True)
            lambda_ = trial.suggest_float("lambda_", *SEARCH_SPACE["lambda_"])
            value = statistics.fmean(cell.val_distance(m) for cell, (m, _) in zip(self.cells, self.metrics(alpha, lambda_), strict=True))
            log.info("bound trial %d/%d: α=%.4g λ=%.3f validation distance %.2f", trial.number + 1, trials,
                     alpha, lambda_, value)
            return value

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=trials)
        return study.best_params["alpha"], study.best_params["lambda_"], study.best_value

    def rows(self, trials: int, others: list[Cell]) -> list[dict]:
        """The bound's rows: searched on these cells, then scored on them and on `others`."""
        start = time.perf_counter()
        alpha, lambda_, value = self.search(trials)
        seconds = time.perf_counter() - start
        tuned_on = sorted({cell.seed for cell in self.cells})
        self.add(others)
        return self.scored(alpha, lambda_, {"trials": trials, "val_distance": value, "search_s": seconds,
                                            "seeds": tuned_on})

    def scored(self, alpha: float, lambda_: float, facts: dict) -> list[dict]:
        """The bound's rows at a searched (α, λ) on every cell; `facts` describe the search."""
        return [cell.row(BOUND, m, alpha=alpha, **{"lambda": lambda_}, params_changed_pct=pct, method_s=None,
                         bound=facts)
                for cell, (m, pct) in zip(self.cells, self.metrics(alpha, lambda_), strict=True)]


def measure(cell_source: Callable[..., Iterator[Cell]], rule_set: dict[str, list[str]], tune_trials: int,
            tune_seeds: list[int], rows: list[dict], save: Callable[[list[dict]], None]) -> list[dict]:
    """Appends to `rows` the (seed, target, rule) cells it lacks, calling `save(rows)` after each
    target; then (tune_trials > 0, unless rows.json already holds it) the tuned bound, searched on
    the cells of `tune_seeds` and scored on every cell. A bound `rows` already holds is scored, at
    its searched (α, λ), on the cells that lack it (a map resumed with more seeds or classes).
    `cell_source(wanted=...)` yields the cells; a target with nothing left to add is not built."""
    done = {(r["seed"], r["class"], r["rule"]) for r in rows}
    searched = next((r for r in rows if r["rule"] == BOUND), None)
    tune = tune_trials > 0 and searched is None
    wanted_rules = [*rule_set, *([BOUND] if searched else [])]
    kept = []
    for cell in cell_source(wanted=lambda seed, target: tune or any((seed, target, r) not in done for r in wanted_rules)):
        rows.extend(run_rules(cell, rule_set, done))
        if searched is not None and (cell.seed, cell.target, BOUND) not in done:
            rows.extend(Bound([cell]).scored(searched["alpha"], searched["lambda"], searched["bound"]))
        save(rows)
        kept.append(cell)
    if tune:
        rows.extend(Bound([c for c in kept if c.seed in tune_seeds])
                    .rows(tune_trials, [c for c in kept if c.seed not in tune_seeds]))
        save(rows)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--task", default="class", choices=("class", "random"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--classes", default=None, help="class indices, e.g. 0,3 (default: all; class task only)")
    parser.add_argument("--mass-shares", default="0.5", help="shares s of the mass_share rule to run")
    parser.add_argument("--tune-trials", type=int, default=40,
                        help="Optuna trials of the tuned bound (0: no bound)")
    parser.add_argument("--tune-seeds", default="0", help="the seeds whose validation split the bound is tuned on")
    parser.add_argument("--out", default=None, help="default: docs/results/ssd_rules/<dataset>[-random]")
    parser.add_argument("--resume", action="store_true", help="keep the cells rows.json already holds")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: one map per core, run side by side)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. paths.root_dir=/tmp/x")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    name = args.dataset + ("-random" if args.task == "random" else "")
    out = Path(args.out) if args.out else Path("docs") / "results" / "ssd_rules" / name
    out.mkdir(parents=True, exist_ok=True)
    rule_set = rules([float(s) for s in args.mass_shares.split(",")])
    classes = [int(c) for c in args.classes.split(",")] if args.classes else None
    start = time.perf_counter()
    rows_file = out / "rows.json"
    rows = json.loads(rows_file.read_text()) if args.resume and rows_file.exists() else []
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = measure(functools.partial(cells, args.dataset, args.task, seeds, classes, args.overrides), rule_set,
                   args.tune_trials,
                   [int(s) for s in args.tune_seeds.split(",")], rows, save=lambda done: rows_file.write_text(json.dumps(done, indent=1)))
    keep = {*rule_set, BOUND}
    rows = [r for r in rows if r["seed"] in seeds and r["rule"] in keep]  # the report: this request
    write_report(rows, out, command=" ".join(["python -m unlearn_bench.bench.ssd_rule_map",
                                              *(sys.argv[1:] if argv is None else argv)]),
                 seconds=time.perf_counter() - start)
    print(f"wrote {out}/rows.json, tables.md, distance_to_gold.png")


if __name__ == "__main__":
    main()
