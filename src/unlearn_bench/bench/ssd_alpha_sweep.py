"""SSD's α on every class of a dataset, against the original model (no gold model needed).

    python -m unlearn_bench.bench.ssd_alpha_sweep --alphas 1,2,3,5,10 [hydra overrides ...]

For each class and α it prints retain/forget test accuracy after SSD beside the original's and
whether the class passes the check "forget accuracy falls ≥ 50 points, retain accuracy stays within
5 points"; then how many classes pass per α. This is how digits' own α was chosen. SSD's own
(Fisher) importances unless `method.estimator=...` is given. With protocol=official, []_D is
computed per class in the official code's per-request loader order.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from unlearn_bench.conf import CONF_DIR
from unlearn_bench.data.forget import ClassTask
from unlearn_bench.experiment.protocol import loader_orders
from unlearn_bench.experiment.setup import Experiment, load_data
from unlearn_bench.importance import compute_importance
from unlearn_bench.methods.ssd import dampen
from unlearn_bench.metrics.split_metrics import accuracy, predict

CONF = CONF_DIR


def test_accuracies(model, exp: Experiment, device: torch.device) -> list[float]:
    """Retain-test and forget-test accuracy (%) of `model` on the experiment's split."""
    return [accuracy(*predict(model, exp.dataset("test", idx), device))
            for idx in (exp.split.test_retain_idx, exp.split.test_forget_idx)]


def sweep(cfg, alphas: list[float], lambda_: float = 1.0) -> list[dict]:
    data = load_data(cfg)
    device = torch.device("cpu")
    rows = []
    importance_train = None
    for label, name in enumerate(data.bundle.classes):
        exp = Experiment(cfg, data, ClassTask(forget=label).split(data), device=device)
        original, _ = exp.original()
        batch_size = cfg.method.batch_size
        split = exp.split
        orders = loader_orders(cfg.protocol.name, split, data.train.targets, data.train.fine_targets, cfg.seed)
        if importance_train is None or orders["name"] == "request":  # protocol=official: per request
            importance_train = compute_importance(
                cfg.method.estimator, original,
                torch.utils.data.DataLoader(exp.dataset("train", orders["train"]), batch_size=batch_size), device)
        importance_forget = compute_importance(
            cfg.method.estimator, original,
            torch.utils.data.DataLoader(exp.dataset("train", orders["forget"]), batch_size=batch_size), device)

        dr0, df0 = test_accuracies(original, exp, device)
        for alpha in alphas:
            model = copy.deepcopy(original)
            changed, total = dampen(model, importance_train, importance_forget, alpha, lambda_)
            dr, df = test_accuracies(model, exp, device)
            rows.append({"class": name, "alpha": alpha, "lambda": lambda_, "retain_test_acc": dr,
                         "forget_test_acc": df, "original_retain_test_acc": dr0,
                         "original_forget_test_acc": df0, "params_changed_pct": 100 * changed / total,
                         "passes": df0 - df >= 50 and dr0 - dr <= 5})
            print(f"class {name:>10} α={alpha:<6g} Dr {dr:6.2f} ({dr0:6.2f})  Df {df:6.2f} ({df0:6.2f})  "
                  f"changed {rows[-1]['params_changed_pct']:6.3f}%  {'pass' if rows[-1]['passes'] else '-'}",
                  flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alphas", default="1,2,3,5,10")
    parser.add_argument("--lambda", dest="lambda_", type=float, default=1.0)
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. dataset=fashion_mnist")
    args = parser.parse_args(argv)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["paths.output_dir=outputs/ssd_alpha_sweep",
                                           "trainer.enable_progress_bar=false", "method.estimator=batch",
                                           *args.overrides])
    alphas = [float(a) for a in args.alphas.split(",")]
    rows = sweep(cfg, alphas, args.lambda_)
    for alpha in alphas:
        passed = [r["class"] for r in rows if r["alpha"] == alpha and r["passes"]]
        print(f"α={alpha:g}: {len(passed)}/{len(rows) // len(alphas)} classes pass ({', '.join(passed)})")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
