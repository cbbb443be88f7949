"""Fisher Forgetting against SSD, and the vectorised expected Fisher against the official loop.

    python -m unlearn_bench.bench.fisher_vs_ssd [--device cpu] [--out bench_results] [--repeats 3]

In one process, on one model and one forget split (digits, forget class 3, a small CNN trained for a
few epochs): the time of Fisher Forgetting / the time of SSD (both importance passes, nothing cached),
and the time of the vectorised expected Fisher (torch.func vmap) / the official batch-size-1 loop of
C backward passes per sample, on the same samples. Medians over `--repeats`; writes
`fisher_vs_ssd.json` and `fisher_vs_ssd.md` under `--out`.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset

from unlearn_bench.data.base import ImageDataset
from unlearn_bench.data.digits import load_digits
from unlearn_bench.data.forget import ClassTask
from unlearn_bench.data.prepare import prepare
from unlearn_bench.data.transforms import build_transform
from unlearn_bench.importance import ImportanceStore, compute_importance
from unlearn_bench.methods.base import UnlearnContext
from unlearn_bench.methods.fisher import FisherForgetting, expected_fisher_loop
from unlearn_bench.methods.ssd import SSD
from unlearn_bench.models.cnn import SmallCNN

QUIET = {"devices": 1, "enable_progress_bar": False}  # one device, the plain loop, no progress bars


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> list[float]:
    """Wall-clock seconds of `repeats` calls (CUDA synchronised)."""
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def train(model: nn.Module, dataset: ImageDataset, epochs: int, seed: int, batch_size: int = 64) -> nn.Module:
    """A few epochs of plain SGD on pre-stacked tensors (fast, deterministic), so that predictions
    (and hence the Fisher) are realistic."""
    torch.manual_seed(seed)
    x = torch.stack([dataset[i][0] for i in range(len(dataset))])
    y = dataset.split.targets
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(batch_size):
            optimizer.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
    return model.eval()


def build_context(device: torch.device, width: int, seed: int, root: Path) -> UnlearnContext:
    data = prepare(load_digits(), seed=seed)
    split = ClassTask(forget="3").split(data)
    tf = build_transform([0.305], [0.376])

    def dataset(idx=None) -> ImageDataset:
        return ImageDataset(data.train if idx is None else data.train.subset(idx), tf)

    def build_model() -> nn.Module:
        return SmallCNN(in_channels=1, num_classes=10, width=width)

    torch.manual_seed(seed)
    original = train(build_model(), dataset(), epochs=5, seed=seed)
    return UnlearnContext(
        original=original, forget_set=dataset(split.forget_idx), retain_set=dataset(split.retain_idx),
        train_set=dataset(), split=split, num_classes=10, device=device, seed=seed,
        build_model=build_model, importance_store=ImportanceStore(root),
        importance_material={"bench": "fisher_vs_ssd", "width": width, "seed": seed},
        trainer_cfg=QUIET,
    )


def run_benchmark(device: torch.device, repeats: int, width: int, loop_samples: int | None,
                  batch_size: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="fisher-vs-ssd-") as tmp:
        ctx = build_context(device, width, seed, Path(tmp))
        fresh = lambda: copy.deepcopy(ctx.original)  # noqa: E731
        fisher = FisherForgetting(batch_size=batch_size)
        ssd = SSD(alpha=10.0, lambda_=1.0, importance_cache=False)
        times = {
            "fisher_forgetting_s": timed(lambda: fisher.unlearn(fresh(), ctx), device, repeats),
            "ssd_s": timed(lambda: ssd.unlearn(fresh(), ctx), device, repeats),
        }
        n = len(ctx.retain_set) if loop_samples is None else min(loop_samples, len(ctx.retain_set))
        samples = Subset(ctx.retain_set, range(n))
        model = fresh().to(device)
        loader = DataLoader(samples, batch_size=batch_size)
        times["fisher_vectorised_s"] = timed(
            lambda: compute_importance("expected", model, loader, device, trainer_cfg=QUIET), device, repeats)
        times["fisher_loop_s"] = timed(
            lambda: expected_fisher_loop(model, samples, device, progress=False), device, repeats)
        vec = compute_importance("expected", model, loader, device, trainer_cfg=QUIET)
        ref = expected_fisher_loop(model, samples, device, progress=False)
        max_diff = max(float((vec[k] - ref[k]).abs().max()) for k in ref)
        sizes = {"retain": len(ctx.retain_set), "forget": len(ctx.forget_set), "train": len(ctx.train_set),
                 "fisher_samples": n, "classes": ctx.num_classes,
                 "parameters": sum(p.numel() for p in ctx.original.parameters())}
    median = {k: statistics.median(v) for k, v in times.items()}
    loop_per_sample = median["fisher_loop_s"] / n
    vec_per_sample = median["fisher_vectorised_s"] / n
    # the official Fisher Forgetting = ours with the loop's per-sample cost over the whole retain set
    official_fisher_s = median["fisher_forgetting_s"] + (loop_per_sample - vec_per_sample) * sizes["retain"]
    return {
        "setup": {"dataset": "digits", "model": f"SmallCNN(width={width})", "task": "class 3",
                  "device": str(device), "threads": torch.get_num_threads(), "repeats": repeats,
                  "batch_size": batch_size, "seed": seed, **sizes},
        "times_s": times,
        "median_s": median,
        "ratios": {
            "fisher_over_ssd": median["fisher_forgetting_s"] / median["ssd_s"],
            "official_fisher_over_ssd_est": official_fisher_s / median["ssd_s"],
            "vectorised_speedup": median["fisher_loop_s"] / median["fisher_vectorised_s"],
        },
        "official_fisher_forgetting_s_est": official_fisher_s,
        "max_abs_diff_vectorised_vs_loop": max_diff,
        "versions": {"torch": torch.__version__, "python": platform.python_version(),
                     "cpu": platform.processor() or platform.machine()},
    }


def markdown(result: dict) -> str:
    s, m, r = result["setup"], result["median_s"], result["ratios"]
    return "\n".join([
        f"Fisher Forgetting vs SSD — {s['dataset']}, {s['model']} ({s['parameters']:,} parameters), "
        f"{s['task']}, {s['device']} ({s['threads']} threads), median of {s['repeats']}",
        "",
        "| measurement | seconds | ratio |",
        "|---|---:|---:|",
        f"| SSD (importances of D and Df, nothing cached) | {m['ssd_s']:.3f} | 1× |",
        f"| Fisher Forgetting, vectorised Fisher ({s['retain']} retain samples) | "
        f"{m['fisher_forgetting_s']:.3f} | {r['fisher_over_ssd']:.1f}× SSD |",
        f"| Fisher Forgetting, official loop (estimated) | {result['official_fisher_forgetting_s_est']:.3f} | "
        f"{r['official_fisher_over_ssd_est']:.1f}× SSD |",
        f"| expected Fisher, batch-size-1 loop ({s['fisher_samples']} samples × {s['classes']} classes) | "
        f"{m['fisher_loop_s']:.3f} | 1× |",
        f"| expected Fisher, vectorised (vmap, batch {s['batch_size']}) | {m['fisher_vectorised_s']:.3f} | "
        f"{r['vectorised_speedup']:.1f}× faster |",
        "",
        f"max |vectorised − loop| = {result['max_abs_diff_vectorised_vs_loop']:.1e}",
    ])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--out", default="bench_results", help="output folder (default bench_results)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=32, help="SmallCNN width (default 32, the cnn model)")
    parser.add_argument("--loop-samples", type=int, default=None,
                        help="retain samples for the loop-vs-vectorised comparison (default all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run_benchmark(torch.device(args.device), args.repeats, args.width, args.loop_samples,
                           args.batch_size, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fisher_vs_ssd.json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (out / "fisher_vs_ssd.md").write_text(table + "\n")
    print(table)
    return result


if __name__ == "__main__":
    main()
