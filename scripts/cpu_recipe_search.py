"""The exploration loop behind issue 33's CPU recipe for CIFAR-10 (docs/results/cpu_recipe/).

A standalone training loop (not the suite's: no Lightning; one seeded 36,000 / 4,000 train /
validation split of CIFAR-10's training images; per-sample random crop with padding 4 and flip) for
trying recipe ideas quickly. It prints validation accuracy only, so that a recipe is chosen without
seeing the test set; the chosen recipe is then measured through the suite's own training code
(`python -m unlearn_bench.bench.train --data ROOT`).

    python scripts/cpu_recipe_search.py --data /path/to/cifar10 --epochs 3 --cl --whiten --logit-scale 0.2

Options: --whiten (the 2×2 patch-whitening stem), --logit-scale (logits × s), --ema (weight average
with this decay, updated every 5 steps, validated beside the weights), --cl (channels_last),
--epochs, --lr, --bs, --width, --ls (label smoothing), --wd, --threads. Prints one line per epoch
(epoch, seconds, validation accuracy, EMA validation accuracy) and a JSON line at the end.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.data.cifar import load_cifar10

MEAN = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1) * 255
STD = torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1) * 255


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="a CIFAR-10 root")
    p.add_argument("--cache", default=None, help="decoded-image cache folder (image-folder trees)")
    p.add_argument("--epochs", type=float, default=8)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--bs", type=int, default=128)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--whiten", action="store_true")
    p.add_argument("--logit-scale", type=float, default=1.0)
    p.add_argument("--ema", type=float, default=0)
    p.add_argument("--cl", action="store_true")
    p.add_argument("--ls", type=float, default=0.1)
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tag", default="")
    return p.parse_args()


def norm(x):
    return (x.float() - MEAN) / STD


def conv_bn(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(conv_bn(c, c), conv_bn(c, c))

    def forward(self, x):
        return x + self.body(x)


class Whiten(nn.Module):
    def __init__(self, images, k=2, eps=5e-4):
        super().__init__()
        patches = F.unfold(images, k).transpose(1, 2).reshape(-1, 3 * k * k)
        patches = patches - patches.mean(0)
        eigenvalues, eigenvectors = torch.linalg.eigh(patches.T @ patches / len(patches))
        w = (eigenvectors / torch.sqrt(eigenvalues + eps)).T.reshape(-1, 3, k, k)
        self.register_buffer("weight", torch.cat([w, -w]))
        self.bias = nn.Parameter(torch.zeros(2 * 3 * k * k))

    def forward(self, x):
        return F.relu(F.conv2d(x, self.weight, self.bias))


def network(a, train_images, g):
    w = a.width
    if a.whiten:
        sample = norm(train_images[torch.randperm(len(train_images), generator=g)[:5000]])
        head = [Whiten(sample), conv_bn(24, 2 * w)]
    else:
        head = [conv_bn(3, w), conv_bn(w, 2 * w)]
    return nn.Sequential(*head, nn.MaxPool2d(2), Residual(2 * w), conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),
                         conv_bn(4 * w, 8 * w), nn.MaxPool2d(2), Residual(8 * w),
                         nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(8 * w, 10))


def crop_flip(x, rg):
    n = len(x)
    x = F.pad(x, (4, 4, 4, 4))
    offsets = torch.randint(0, 9, (n, 2), generator=rg)
    rows = offsets[:, 0, None] + torch.arange(32)
    cols = offsets[:, 1, None] + torch.arange(32)
    x = x[torch.arange(n)[:, None, None, None], torch.arange(3)[None, :, None, None],
          rows[:, None, :, None], cols[:, None, None, :]]
    flip = torch.rand(n, generator=rg) < 0.5
    x[flip] = x[flip].flip(3)
    return x


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    bundle = load_cifar10(a.data, cache_dir=a.cache)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(50000, generator=g)
    train_idx, val_idx = perm[:36000], perm[36000:40000]
    images, labels = bundle.train.images, bundle.train.targets
    x_train, y_train = images[train_idx], labels[train_idx]
    x_val, y_val = norm(images[val_idx]), labels[val_idx]
    net = network(a, x_train, g)
    if a.cl:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=a.wd)
    steps_per_epoch = len(x_train) // a.bs
    total = int(a.epochs * steps_per_epoch)
    peak = int(0.25 * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / peak if s < peak else max(total - s, 0) / (total - peak))
    ema = copy.deepcopy(net) if a.ema else None

    def evaluate(m):
        m.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(x_val), 500):
                x = x_val[i:i + 500]
                if a.cl:
                    x = x.contiguous(memory_format=torch.channels_last)
                correct += (m(x) * a.logit_scale).argmax(1).eq(y_val[i:i + 500]).sum().item()
        m.train()
        return 100 * correct / len(x_val)

    start, step, rg, log = time.perf_counter(), 0, torch.Generator().manual_seed(1), []
    while step < total:
        order = torch.randperm(len(x_train), generator=rg)
        for i in range(steps_per_epoch):
            if step >= total:
                break
            idx = order[i * a.bs:(i + 1) * a.bs]
            x = norm(crop_flip(x_train[idx], rg))
            if a.cl:
                x = x.contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(net(x) * a.logit_scale, y_train[idx], label_smoothing=a.ls)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if ema is not None and step % 5 == 0:
                with torch.no_grad():
                    for pe, pn in zip(ema.state_dict().values(), net.state_dict().values(), strict=True):
                        if pe.dtype.is_floating_point:
                            pe.lerp_(pn, 1 - a.ema ** 5)
                        else:
                            pe.copy_(pn)
        log.append((round(step / steps_per_epoch, 2), round(time.perf_counter() - start), evaluate(net),
                    evaluate(ema) if ema else None))
        print(log[-1], flush=True)
    print(json.dumps({"args": vars(a), "train_s": round(time.perf_counter() - start), "val": log[-1][2],
                      "val_ema": log[-1][3]}), flush=True)


if __name__ == "__main__":
    main()
