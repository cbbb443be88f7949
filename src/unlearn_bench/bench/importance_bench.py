"""How fast is SSD's importance pass, and what does a stored []_D save?

    python -m unlearn_bench.bench [--device cpu|cuda] [--repeats 3] [--out bench_results] ...

In one process, on one device: a CIFAR-shaped synthetic data set (3×32×32, 10 classes, |D| samples,
random labels: timing does not depend on what is learnt) and the paper's CIFAR ResNet18
(`models/resnet.py`) at reduced width. Every time is the median of `--repeats` runs after a
warm-up, the runs of the compared functions interleaved so that load from other processes hits
both sides alike. Writes `importance_bench.json` and `importance_bench.md` under `--out`:

- importance pass ([]_D, official `batch` estimator) / a plain forward+backward pass over the
  same batches (target ≤ 1.05), and the Lightning one-device pass / the plain loop;
- SSD reading []_D from the store / SSD computing it, at |Df| = 2 % of |D| (target ≤ 0.10);
- SSD (computing []_D) / retraining the gold model on D minus Df (`fit_classifier`);
- evaluation (all accuracies + MIA, `metrics.evaluate`) / one forward pass over the same sets
  (target ≤ 1.2);
- peak memory of the importance pass over a forward+backward pass; the excess, in units of the
  parameter memory, is the importance buffers (target ≤ 2×). CPU: bytes the allocator hands out
  (torch.profiler memory events); CUDA: `torch.cuda.max_memory_allocated`.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from unlearn_bench.importance import ImportanceStore, compute_importance
from unlearn_bench.methods.base import UnlearnContext
from unlearn_bench.methods.ssd import SSD
from unlearn_bench.metrics.split_metrics import SPLITS, evaluate
from unlearn_bench.models.resnet import resnet18
from unlearn_bench.training.module import Recipe, fit_classifier


@dataclass
class BenchConfig:
    device: str = "cpu"
    repeats: int = 5
    train_samples: int = 512  # |D|
    test_samples: int = 256
    forget_fraction: float = 0.02  # |Df| / |D|
    num_classes: int = 10
    width: int = 8  # ResNet18 base width (the paper's is 64)
    batch_size: int = 64  # the paper's importance and training batch size
    eval_batch_size: int = 256
    retrain_epochs: int = 2
    memory_batches: int = 2
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    seed: int = 0


@dataclass
class Setup:
    """The model, data and SSD context every measurement shares."""

    model: nn.Module
    train: Dataset
    forget: Dataset
    retain: Dataset
    test: Dataset
    eval_sets: dict[str, Dataset]
    trainer_cfg: DictConfig
    device: torch.device
    store_dir: Path


# --------------------------------------------------------------------------- setup


def synthetic(n: int, classes: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, classes, (n,), generator=g))


def build_model(cfg: BenchConfig) -> nn.Module:
    torch.manual_seed(cfg.seed)
    return resnet18(cfg.num_classes, in_channels=3, width=cfg.width).eval()


def make_setup(cfg: BenchConfig, store_dir: Path) -> Setup:
    device = torch.device(cfg.device)
    train = synthetic(cfg.train_samples, cfg.num_classes, cfg.seed)
    test = synthetic(cfg.test_samples, cfg.num_classes, cfg.seed + 1)
    n_forget = max(1, round(cfg.forget_fraction * cfg.train_samples))
    forget_idx = np.random.default_rng(cfg.seed).choice(cfg.train_samples, n_forget, replace=False)
    retain_idx = np.setdiff1d(np.arange(cfg.train_samples), forget_idx)
    test_forget = np.flatnonzero(test.tensors[1].numpy() == 0)
    test_retain = np.flatnonzero(test.tensors[1].numpy() != 0)
    forget, retain = Subset(train, forget_idx.tolist()), Subset(train, retain_idx.tolist())
    eval_sets = {"retain_train": retain, "forget_train": forget,
                 "retain_test": Subset(test, test_retain.tolist()), "forget_test": Subset(test, test_forget.tolist())}
    trainer_cfg = OmegaConf.create({"accelerator": "gpu" if device.type == "cuda" else "cpu", "devices": 1,
                                    "strategy": "auto", "precision": "32-true", "enable_progress_bar": False})
    return Setup(build_model(cfg).to(device), train, forget, retain, test, eval_sets, trainer_cfg, device, store_dir)


def ssd_context(s: Setup, cfg: BenchConfig) -> UnlearnContext:
    return UnlearnContext(
        original=s.model, forget_set=s.forget, retain_set=s.retain, train_set=s.train, split=None,
        num_classes=cfg.num_classes, device=s.device, seed=cfg.seed,
        build_model=functools.partial(build_model, cfg), importance_store=ImportanceStore(s.store_dir),
        importance_material={"bench": "importance", **asdict(cfg)}, batch_size=cfg.batch_size,
        trainer_cfg=s.trainer_cfg,
    )


# --------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, device: torch.device,
                warmup: bool = True) -> dict[str, list[float]]:
    """Seconds of each function over `repeats` rounds, one call of each per round (after a warm-up)."""
    if warmup:
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn, device))
    return times


def forward_backward_pass(model: nn.Module, loader: DataLoader, device: torch.device) -> None:
    """What one training epoch does minus the optimiser: forward, mean CE, backward, per batch."""
    model.eval()
    for x, y in loader:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x.to(device)), y.to(device)).backward()
    model.zero_grad(set_to_none=True)


@torch.no_grad()
def forward_pass(model: nn.Module, sets: dict[str, Dataset], batch_size: int, device: torch.device) -> None:
    model.eval()
    for split in SPLITS:
        for x, _ in DataLoader(sets[split], batch_size=batch_size):
            model(x.to(device))


# --------------------------------------------------------------------------- measurements


def bench_importance_pass(s: Setup, cfg: BenchConfig) -> dict[str, list[float]]:
    """[]_D by the plain loop and by Lightning on one device, against forward+backward; and
    []_Df (a few samples), where Lightning's fixed cost shows."""
    loader = DataLoader(s.train, batch_size=cfg.batch_size)
    forget_loader = DataLoader(s.forget, batch_size=cfg.batch_size)

    def importance(data: DataLoader, backend: str) -> Callable[[], object]:
        return lambda: compute_importance("batch", s.model, data, s.device, trainer_cfg=s.trainer_cfg,
                                          backend=backend)

    return interleaved({
        "forward_backward": lambda: forward_backward_pass(s.model, loader, s.device),
        "importance_loop": importance(loader, "loop"),
        "importance_lightning": importance(loader, "lightning"),
        "forget_importance_loop": importance(forget_loader, "loop"),
        "forget_importance_lightning": importance(forget_loader, "lightning"),
    }, cfg.repeats, s.device)


def bench_ssd(s: Setup, cfg: BenchConfig) -> dict[str, list[float]]:
    """SSD.unlearn on a fresh copy of the model (the copy is the pipeline's work, not timed)."""
    ctx = ssd_context(s, cfg)
    methods = {"ssd_computing": SSD(alpha=10.0, lambda_=1.0, batch_size=cfg.batch_size, importance_cache=False),
               "ssd_stored": SSD(alpha=10.0, lambda_=1.0, batch_size=cfg.batch_size, importance_cache=True)}
    times: dict[str, list[float]] = {name: [] for name in methods}
    for round_ in range(cfg.repeats + 1):  # round 0 warms up and stores []_D for ssd_stored
        for name, method in methods.items():
            model = copy.deepcopy(s.model)
            seconds = timed(lambda m=method, net=model: m.unlearn(net, ctx), s.device)
            if round_:
                times[name].append(seconds)
    return times


def bench_retrain(s: Setup, cfg: BenchConfig) -> dict[str, list[float]]:
    recipe = Recipe(optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=5e-4),
                    epochs=cfg.retrain_epochs, batch_size=cfg.batch_size, eval_batch_size=cfg.eval_batch_size,
                    milestones=[], warmup_epochs=1)

    def retrain() -> None:
        fit_classifier(build_model(cfg).train(), s.retain, s.test, recipe, s.trainer_cfg, cfg.seed, from_scratch=True)

    return interleaved({"retrain": retrain}, cfg.repeats, s.device, warmup=False)


def bench_evaluation(s: Setup, cfg: BenchConfig) -> dict[str, list[float]]:
    return interleaved({
        "forward": lambda: forward_pass(s.model, s.eval_sets, cfg.eval_batch_size, s.device),
        "evaluate": lambda: evaluate(s.model, s.eval_sets, s.device, cfg.eval_batch_size),
    }, cfg.repeats, s.device)


def peak_bytes(fn: Callable[[], object], device: torch.device) -> int:
    """Peak bytes allocated while `fn` runs, above what was allocated before it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    current = peak = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return peak


def bench_memory(s: Setup, cfg: BenchConfig) -> dict[str, float]:
    loader = DataLoader(Subset(s.train, range(cfg.memory_batches * cfg.batch_size)), batch_size=cfg.batch_size)
    fb = peak_bytes(lambda: forward_backward_pass(s.model, loader, s.device), s.device)
    imp = peak_bytes(lambda: compute_importance("batch", s.model, loader, s.device, trainer_cfg=s.trainer_cfg),
                     s.device)
    params = sum(p.numel() * p.element_size() for p in s.model.parameters())
    return {"forward_backward_peak_bytes": fb, "importance_peak_bytes": imp, "param_bytes": params}


# --------------------------------------------------------------------------- report


def median(runs: list[float]) -> float:
    return statistics.median(runs)


def ratio(name: str, num: float, den: float, target: float | None, note: str) -> dict:
    value = num / den if den else float("nan")
    return {"name": name, "value": value, "target": target,
            "met": None if target is None else bool(value <= target), "note": note}


def ratios(times: dict[str, list[float]], memory: dict[str, float], cfg: BenchConfig) -> list[dict]:
    m = {name: median(runs) for name, runs in times.items()}
    extra = memory["importance_peak_bytes"] - memory["forward_backward_peak_bytes"]
    return [
        ratio("importance pass / forward+backward", m["importance_loop"], m["forward_backward"], 1.05,
              f"{m['importance_loop']:.3f} s / {m['forward_backward']:.3f} s"),
        ratio("[]_D: Lightning on 1 device / plain loop", m["importance_lightning"], m["importance_loop"], None,
              f"{m['importance_lightning']:.3f} s / {m['importance_loop']:.3f} s"),
        ratio("[]_Df: Lightning on 1 device / plain loop", m["forget_importance_lightning"],
              m["forget_importance_loop"], None,
              f"{m['forget_importance_lightning']:.3f} s / {m['forget_importance_loop']:.3f} s"),
        ratio("SSD with stored []_D / SSD computing it", m["ssd_stored"], m["ssd_computing"], 0.10,
              f"{m['ssd_stored']:.3f} s / {m['ssd_computing']:.3f} s, |Df| = {cfg.forget_fraction:.0%} of |D|"),
        ratio(f"SSD / gold retraining ({cfg.retrain_epochs} epochs)", m["ssd_computing"], m["retrain"], None,
              f"{m['ssd_computing']:.3f} s / {m['retrain']:.3f} s; per epoch of retraining: "
              f"{m['ssd_computing'] / (m['retrain'] / cfg.retrain_epochs):.2f}"),
        ratio("evaluation (accuracies + MIA) / forward pass", m["evaluate"], m["forward"], 1.2,
              f"{m['evaluate']:.3f} s / {m['forward']:.3f} s"),
        ratio("peak memory: importance / forward+backward", memory["importance_peak_bytes"],
              memory["forward_backward_peak_bytes"], None,
              f"{memory['importance_peak_bytes'] / 2**20:.1f} MiB / {memory['forward_backward_peak_bytes'] / 2**20:.1f} MiB"),
        ratio("importance buffers / parameter memory", extra, memory["param_bytes"], 2.0,
              f"peak excess {extra / 2**20:.2f} MiB, parameters {memory['param_bytes'] / 2**20:.2f} MiB"),
    ]


def markdown(result: dict) -> str:
    cfg = result["config"]
    lines = [
        f"Importance benchmark on {result['device_name']} ({cfg['device']}, {result['threads']} threads): "
        f"ResNet18 (CIFAR stem, width {cfg['width']}), synthetic 3×32×32 data, |D| = {cfg['train_samples']}, "
        f"batch {cfg['batch_size']}; medians of {cfg['repeats']} runs.",
        "",
        "| measure | ratio | target | met | times |",
        "|---|---:|---:|:---:|---|",
    ]
    for r in result["ratios"]:
        target = "—" if r["target"] is None else f"≤ {r['target']:g}"
        met = "—" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['name']} | {r['value']:.3f} | {target} | {met} | {r['note']} |")
    return "\n".join(lines) + "\n"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU"


def run_bench(cfg: BenchConfig) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="importance-bench-") as tmp:
        s = make_setup(cfg, Path(tmp))
        times = {**bench_importance_pass(s, cfg), **bench_ssd(s, cfg), **bench_retrain(s, cfg),
                 **bench_evaluation(s, cfg)}
        memory = bench_memory(s, cfg)
    return {
        "config": asdict(cfg),
        "device_name": device_name(torch.device(cfg.device)),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "times_s": {name: {"median": median(runs), "runs": runs} for name, runs in times.items()},
        "memory": memory,
        "ratios": ratios(times, memory, cfg),
        "bench_s": time.perf_counter() - start,
    }


def write(result: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "importance_bench.json", out / "importance_bench.md"
    json_path.write_text(json.dumps(result, indent=2))
    md_path.write_text(markdown(result))
    return json_path, md_path


def parse_args(argv: list[str] | None = None) -> tuple[BenchConfig, Path]:
    defaults = BenchConfig()
    parser = argparse.ArgumentParser(prog="python -m unlearn_bench.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default=defaults.device)
    parser.add_argument("--repeats", type=int, default=defaults.repeats)
    parser.add_argument("--out", type=Path, default=Path("bench_results"))
    parser.add_argument("--train-samples", type=int, default=defaults.train_samples, help="|D|")
    parser.add_argument("--width", type=int, default=defaults.width, help="ResNet18 base width (paper: 64)")
    parser.add_argument("--retrain-epochs", type=int, default=defaults.retrain_epochs)
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads (0: default)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available")
    cfg = BenchConfig(device=args.device, repeats=args.repeats, train_samples=args.train_samples,
                      width=args.width, retrain_epochs=args.retrain_epochs, threads=args.threads)
    return cfg, args.out


def main(argv: list[str] | None = None) -> dict:
    cfg, out = parse_args(argv)
    result = run_bench(cfg)
    json_path, md_path = write(result, out)
    print(markdown(result))
    print(f"Wrote {json_path} and {md_path} ({result['bench_s']:.0f} s).")
    return result
