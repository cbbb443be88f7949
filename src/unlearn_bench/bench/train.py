"""python -m unlearn_bench.bench.train: the CPU training preset's speed and time to accuracy.

Sections, in one process (medians of `--repeats`):

- throughput: images/s of training epochs of the CIFAR-10 stand-in (resnet_small) on `--train-images`
  random images, for the previous recipe's network (conv stem) and the current one (whitening stem),
  in fp32, fp32 + channels_last and bf16-mixed + channels_last (bf16 only where the CPU computes it
  natively, unless `--bf16 always`; emulated bf16 is ~10× slower and says nothing about the preset);
- processes: the images/s of the whole machine when one process trains with every core's thread
  against as many one-thread processes as there are cores, each training the same epochs;
- time to accuracy (with `--data`, a CIFAR-10 root): a seeded scale=cpu original trained by the
  pipeline's own code (`fit_classifier`, the scale's subset, validation split and best-epoch choice)
  under the previous recipe and the current one, per seed: wall seconds, best validation accuracy,
  test accuracy. The recipes are the preset's configs (conf/scale/cpu.yaml,
  conf/dataset_model/cifar10_resnet_small.yaml); the previous one is those configs with OLD_RECIPE.

Writes `train_bench.json` and `train_bench.md` under `--out`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import torch

from unlearn_bench.bench.output import write_result
from unlearn_bench.utils.cpu import cpu_flags, cpu_model, has_native_bf16, usable_cores

# the CIFAR-10 stand-in's recipe before the whitening stem (2026-11-27 to 2026-12-06)
OLD_RECIPE = ["model.net.stem=conv", "model.net.head_scale=1", "training.epochs=8", "trainer.channels_last=false"]
VECTOR_FLAGS = {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
BASE = ["scale=cpu", "dataset=cifar10", "model=resnet_small", "trainer=cpu", "trainer.num_threads=null"]
VARIANTS = {
    "fp32": {"precision": "32-true", "channels_last": False},
    "fp32 channels_last": {"precision": "32-true", "channels_last": True},
    "bf16 channels_last": {"precision": "bf16-mixed", "channels_last": True},
}


def epoch_times(stem: str, variant: dict, images: int, batch: int, repeats: int, threads: int | None = None) -> list[float]:
    """Seconds per training epoch (after one untimed epoch) of resnet_small on random images, with the
    preset's crop + flip."""
    from torchvision.transforms import v2

    from unlearn_bench.bench.data import CIFAR_MEAN, CIFAR_STD, load_images, train_epoch
    from unlearn_bench.data.base import ImageDataset
    from unlearn_bench.data.batches import sample_images
    from unlearn_bench.data.transforms import TransformSpec
    from unlearn_bench.models.resnet_small import SmallResNet

    if threads is not None:
        torch.set_num_threads(threads)
    split = load_images(None, images)

    def model() -> SmallResNet:
        net = SmallResNet(10, stem=stem)
        net.init_from_data(sample_images(ImageDataset(split, spec=TransformSpec(CIFAR_MEAN, CIFAR_STD)), 1000))
        return net

    return train_epoch(model, split, torch.device("cpu"), batch, repeats, variant, new_path=True,
                       augmentations=(v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()), nesterov=True)


def _worker(args: tuple) -> list[float]:
    return epoch_times(*args)


def processes(stem: str, images: int, batch: int, repeats: int) -> dict:
    """Total images/s of one process with every core's thread against one one-thread process per core."""
    cores = usable_cores()
    variant = VARIANTS["fp32 channels_last"]
    one = epoch_times(stem, variant, images, batch, repeats, threads=cores)
    context = multiprocessing.get_context("spawn")
    with context.Pool(cores) as pool:
        many = pool.map(_worker, [(stem, variant, images, batch, repeats, 1)] * cores)
    torch.set_num_threads(cores)
    one_ips = images / statistics.median(one)
    many_ips = sum(images / statistics.median(runs) for runs in many)
    return {"cores": cores, "one_process_threads": cores, "one_process_images_per_s": one_ips,
            "processes": cores, "processes_images_per_s": many_ips, "ratio": many_ips / one_ips,
            "runs_s": {"one": one, "many": many}}


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    import unlearn_bench.cli.resolvers  # noqa: F401 - the configs' resolvers

    with initialize_config_module("unlearn_bench.conf", version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def train_original(root: str, seed: int, extra: list[str]) -> dict:
    """A scale=cpu CIFAR-10 original trained as a run trains it; wall time and accuracies."""
    from unlearn_bench.experiment.setup import Experiment, load_data
    from unlearn_bench.metrics.split_metrics import accuracy, predict
    from unlearn_bench.training.module import fit_classifier
    from unlearn_bench.utils.cpu import apply_threads, with_cpu_precision
    from unlearn_bench.utils.errors import build

    cfg = with_cpu_precision(compose([*BASE, f"dataset.root={root}", f"seed={seed}", *extra]))
    apply_threads(cfg.trainer.get("num_threads"))
    data = load_data(cfg)
    exp = Experiment(cfg, data, split=None)
    net = exp.initial_model()
    start = time.perf_counter()
    info = fit_classifier(net, exp.dataset("train", train_transform=True), exp.dataset("val"), build(cfg.training),
                          cfg.trainer, seed, name=f"original seed {seed}", from_scratch=True)
    wall = time.perf_counter() - start
    logits, labels = predict(net, exp.dataset("test"), torch.device("cpu"))
    return {"seed": seed, "wall_s": wall, "train_s": info["train_s"], "epochs": info["epochs"],
            "best_epoch": info["best_epoch"], "best_val_acc": info["best_val_acc"],
            "test_acc": accuracy(logits, labels), "precision": str(cfg.trainer.precision),
            "channels_last": bool(cfg.trainer.channels_last), "stem": str(cfg.model.net.get("stem", "conv")),
            "head_scale": float(cfg.model.net.get("head_scale", 1.0)), "train_images": len(data.train),
            "threads": torch.get_num_threads()}


def run_bench(args) -> dict:
    start = time.perf_counter()
    bf16 = args.bf16 == "always" or (args.bf16 == "native" and has_native_bf16())
    result: dict = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cores": usable_cores(),
                    "machine": cpu_model(), "vector_flags": sorted(cpu_flags() & VECTOR_FLAGS), "native_bf16": has_native_bf16(),
                    "repeats": args.repeats, "batch": args.batch, "train_images": args.train_images}
    throughput: dict = {}
    for stem in ("conv", "whiten"):
        for name, variant in VARIANTS.items():
            if "bf16" in name and not bf16:
                continue
            runs = epoch_times(stem, variant, args.train_images, args.batch, args.repeats)
            throughput[f"{stem} {name}"] = {"runs_s": runs, "images_per_s": args.train_images / statistics.median(runs)}
    result["throughput"] = throughput
    if args.processes:
        result["processes"] = processes("whiten", args.train_images, args.batch, args.repeats)
    if args.data:
        recipes = {"previous": OLD_RECIPE, "current": []}
        if bf16:
            recipes["current bf16"] = ["scale.cpu_bf16=true"]
        result["overrides"] = list(args.override)
        seeds = {name: args.previous_seeds if name == "previous" and args.previous_seeds else args.seeds
                 for name in recipes}
        result["time_to_accuracy"] = {name: [train_original(args.data, s, [*extra, *args.override])
                                             for s in seeds[name]]
                                      for name, extra in recipes.items() if name in args.recipes}
    result["bench_s"] = time.perf_counter() - start
    return result


def markdown(r: dict) -> str:
    rows = [f"{r['machine']} ({', '.join(r.get('vector_flags', [])) or 'no listed vector flags'}), {r['cores']} usable "
            f"cores, {r['threads']} threads, torch {r['torch']}; native bf16: "
            f"{'yes' if r['native_bf16'] else 'no'}; batch {r['batch']}; medians of {r['repeats']} epochs of "
            f"{r['train_images']:,} random images after one untimed epoch.", "",
            "| resnet_small training | images/s |", "|---|---:|"]
    rows += [f"| {name} | {v['images_per_s']:,.0f} |" for name, v in r["throughput"].items()]
    if "processes" in r:
        p = r["processes"]
        rows += ["", "| the whole machine, whitening stem, fp32 channels_last | images/s |", "|---|---:|",
                 f"| one process, {p['one_process_threads']} threads | {p['one_process_images_per_s']:,.0f} |",
                 f"| {p['processes']} processes, 1 thread each | {p['processes_images_per_s']:,.0f} "
                 f"({p['ratio']:.2f}×) |"]
    if "time_to_accuracy" in r:
        rows += ["", "| recipe | seed | precision | epochs | wall (s) | best val acc (epoch) | test acc |",
                 "|---|---:|---|---:|---:|---:|---:|"]
        for name, runs in r["time_to_accuracy"].items():
            for run in runs:
                rows.append(f"| {name} | {run['seed']} | {run['precision']}{' + channels_last' if run['channels_last'] else ''} "
                            f"| {run['epochs']} | {run['wall_s']:.0f} | {run['best_val_acc']:.2f} ({run['best_epoch'] + 1}) "
                            f"| {run['test_acc']:.2f} |")
            if len(runs) > 1:
                rows.append(f"| {name}: median | | | | {statistics.median(x['wall_s'] for x in runs):.0f} | "
                            f"{statistics.median(x['best_val_acc'] for x in runs):.2f} | "
                            f"{statistics.median(x['test_acc'] for x in runs):.2f} |")
    rows += ["", f"Whole benchmark: {r['bench_s']:.0f} s."]
    return "\n".join(rows) + "\n"


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m unlearn_bench.bench.train", description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="a CIFAR-10 root: adds the time-to-accuracy section")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--previous-seeds", type=int, nargs="+", default=None,
                   help="seeds of the previous recipe, if not --seeds")
    p.add_argument("--recipes", nargs="+", default=["previous", "current", "current bf16"],
                   help="which recipes the time-to-accuracy section trains")
    p.add_argument("--override", nargs="*", default=[],
                   help="config overrides added to every recipe of the time-to-accuracy section")
    p.add_argument("--train-images", type=int, default=2560, help="random images per timed epoch")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--bf16", choices=("native", "always", "never"), default="native",
                   help="time bf16-mixed where the CPU has native bf16 (default), always, or never")
    p.add_argument("--no-processes", dest="processes", action="store_false",
                   help="skip the one-process-against-many section")
    p.add_argument("--out", default="bench_results")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse(argv)
    result = run_bench(args)
    write_result(args.out, "train_bench", result, markdown(result))
    return result


if __name__ == "__main__":
    main()
