"""python -m unlearn_bench.bench.data: the batched on-device data path against the per-sample one.

Three sections, each a median of `--repeats` runs in one process:

- data path alone: augment (CIFAR-10's crop + flip + rotation) and normalise an epoch, no model;
  old = torchvision v2 per sample in a DataLoader (num_workers=0), new = uint8 batches on the device;
- one training epoch of the CPU stand-in (resnet_small) on `--train-images` images, old vs new data
  path, same model and precision (fp32); plus the new path in bf16 + channels_last;
- on CUDA only: one ResNet18 (CIFAR stem) epoch on the 50,000 training images, new path, bf16 +
  channels_last (the paper-scale cost: 200 epochs ≈ 200 × this).

Data: `--data PATH` (a CIFAR-10 root: torchvision's batches or the image-folder tree), else random
uint8 images of CIFAR-10's shape (the data path's speed does not depend on the pixels). Writes
`data_bench.json` and `data_bench.md` under `--out`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torchvision.transforms import v2

from unlearn_bench.bench.output import write_result
from unlearn_bench.data.base import ImageDataset, ImageSplit
from unlearn_bench.data.batches import make_loader
from unlearn_bench.data.transforms import TransformSpec
from unlearn_bench.methods.loops import train_epochs
from unlearn_bench.models.resnet import resnet18
from unlearn_bench.models.resnet_small import SmallResNet
from unlearn_bench.utils.precision import method_autocast

CIFAR_MEAN, CIFAR_STD = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)


def cifar_augmentations() -> tuple:
    """conf/dataset/cifar10.yaml's augmentations."""
    return (v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(), v2.RandomRotation(15))


def load_images(data: str | None, n: int) -> ImageSplit:
    if data:
        from unlearn_bench.data.cifar import load_cifar10

        train = load_cifar10(data).train
        return train.subset(torch.arange(min(n, len(train))))
    g = torch.Generator().manual_seed(0)
    return ImageSplit(torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                      torch.randint(0, 10, (n,), generator=g))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> list[float]:
    """`repeats` wall times of `fn`, after `warmup` untimed calls (first-call costs: moving the data
    to the device, kernel and allocator warm-up), the same for every path compared."""
    for _ in range(warmup):
        fn()
        sync(device)
    runs = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        runs.append(time.perf_counter() - start)
    return runs


def per_sample_dataset(split: ImageSplit, spec: TransformSpec) -> ImageDataset:
    return ImageDataset(split, transform=spec.per_sample())


def epoch_of(loader) -> Callable[[], None]:
    def run():
        for batch in loader:
            batch[0].sum()  # touch the batch

    return run


def data_path(split: ImageSplit, old_split: ImageSplit, device: torch.device, batch: int, repeats: int) -> dict:
    spec = TransformSpec(CIFAR_MEAN, CIFAR_STD, augmentations=cifar_augmentations())
    old = make_loader(per_sample_dataset(old_split, spec), "cpu", batch, shuffle=True)
    new = make_loader(ImageDataset(split, spec=spec, augment=True), device, batch, shuffle=True)
    new_runs = timed(epoch_of(new), device, repeats)
    old_runs = timed(epoch_of(old), torch.device("cpu"), repeats)
    return {"old_images": len(old_split), "new_images": len(split),
            "old_s": old_runs, "new_s": new_runs,
            "old_images_per_s": len(old_split) / statistics.median(old_runs),
            "new_images_per_s": len(split) / statistics.median(new_runs)}


def train_epoch(model_fn, split: ImageSplit, device: torch.device, batch: int, repeats: int,
                trainer_cfg: dict, new_path: bool, augmentations: tuple | None = None,
                nesterov: bool = False) -> list[float]:
    """Wall seconds of `repeats` training epochs (after one untimed one) of `model_fn()` on `split`."""
    spec = TransformSpec(CIFAR_MEAN, CIFAR_STD,
                         augmentations=cifar_augmentations() if augmentations is None else augmentations)
    channels_last = bool(trainer_cfg.get("channels_last"))
    if new_path:
        loader = make_loader(ImageDataset(split, spec=spec, augment=True), device, batch, shuffle=True,
                             channels_last=channels_last)
    else:
        loader = make_loader(per_sample_dataset(split, spec), "cpu", batch, shuffle=True)
    torch.manual_seed(0)
    model = model_fn().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=nesterov)

    def run():
        train_epochs(model, loader, optimizer, 1, device, progress=False,
                     autocast=lambda: method_autocast(trainer_cfg, device))

    return timed(run, device, repeats)


def run_bench(args) -> dict:
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    start = time.perf_counter()
    split = load_images(args.data, args.images)
    old_split = split.subset(torch.arange(min(args.old_images, len(split))))
    train_split = split.subset(torch.arange(min(args.train_images, len(split))))
    result: dict = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "machine": platform.processor() or platform.machine(),
                    "data": args.data or "random uint8 3×32×32", "repeats": args.repeats, "batch": args.batch}
    result["data_path"] = data_path(split, old_split, device, args.batch, args.repeats)
    small = lambda: SmallResNet(10)  # noqa: E731
    epochs = {
        "old fp32": train_epoch(small, train_split, torch.device("cpu") if device.type == "cpu" else device,
                                args.batch, args.repeats, {"precision": "32-true"}, new_path=False),
        "new fp32": train_epoch(small, train_split, device, args.batch, args.repeats, {"precision": "32-true"}, True),
        "new bf16 channels_last": train_epoch(small, train_split, device, args.batch, args.repeats,
                                              {"precision": "bf16-mixed", "channels_last": True}, True),
    }
    result["train_epoch"] = {"model": "resnet_small (width 16)", "images": len(train_split),
                             "runs_s": epochs,
                             "images_per_s": {k: len(train_split) / statistics.median(v) for k, v in epochs.items()}}
    if device.type == "cuda":
        full = load_images(args.data, 50000)
        runs = train_epoch(lambda: resnet18(10), full, device, args.gpu_batch, args.repeats,
                           {"precision": "bf16-mixed", "channels_last": True}, True)
        result["cuda_resnet18_epoch"] = {"images": len(full), "batch": args.gpu_batch, "runs_s": runs,
                                         "epoch_s": statistics.median(runs),
                                         "images_per_s": len(full) / statistics.median(runs)}
    result["bench_s"] = time.perf_counter() - start
    return result


def markdown(r: dict) -> str:
    d, t = r["data_path"], r["train_epoch"]
    rows = [
        f"Device {r['device']} ({r['machine']}, {r['threads']} threads, torch {r['torch']}); data: {r['data']}; "
        f"batch {r['batch']}; medians of {r['repeats']} runs.",
        "",
        "| measurement | old (per-sample v2, DataLoader) | new (batched, on device) | new / old |",
        "|---|---|---|---|",
        f"| data path: augment + normalise (images/s) | {d['old_images_per_s']:,.0f} | {d['new_images_per_s']:,.0f} "
        f"| {d['new_images_per_s'] / d['old_images_per_s']:.1f}× |",
    ]
    ips = t["images_per_s"]
    rows.append(f"| {t['model']} training epoch, fp32 (images/s) | {ips['old fp32']:,.0f} | {ips['new fp32']:,.0f} "
                f"| {ips['new fp32'] / ips['old fp32']:.1f}× |")
    rows.append(f"| same, new path in bf16 + channels_last (images/s) | {ips['old fp32']:,.0f} "
                f"| {ips['new bf16 channels_last']:,.0f} | {ips['new bf16 channels_last'] / ips['old fp32']:.1f}× |")
    if "cuda_resnet18_epoch" in r:
        c = r["cuda_resnet18_epoch"]
        rows.append(f"| ResNet18 epoch on {c['images']:,} images, bf16 + channels_last, batch {c['batch']} | — "
                    f"| {c['epoch_s']:.2f} s ({c['images_per_s']:,.0f} images/s) | |")
    else:
        rows.append("| ResNet18 epoch (CUDA only) | — | not run: no CUDA device | |")
    rows.append("")
    rows.append(f"Old data path timed on {d['old_images']:,} images, new on {d['new_images']:,}; training epoch "
                f"on {t['images']:,} images. Whole benchmark: {r['bench_s']:.0f} s.")
    return "\n".join(rows) + "\n"


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m unlearn_bench.bench.data", description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--data", default=None, help="a CIFAR-10 root (batches or image-folder tree); default random")
    p.add_argument("--images", type=int, default=50000, help="images in the new data path's epoch")
    p.add_argument("--old-images", type=int, default=5000, help="images timed on the old, per-sample path")
    p.add_argument("--train-images", type=int, default=2560, help="images in the timed training epochs")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--gpu-batch", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="bench_results")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse(argv)
    result = run_bench(args)
    write_result(args.out, "data_bench", result, markdown(result))
    return result


if __name__ == "__main__":
    main()
