"""Diagonal Fisher importances: one pass on one or many devices, and their on-disk store.

One accumulation serves every estimator. An estimator maps one mini-batch to a sum of squared
gradients per parameter and the count it stands for; the importance is the total sum divided by
the total count:

- ``batch`` (the official SSD code, paper parity): (∇ mean-batch CE)², counted once per batch;
- ``per_sample`` (true empirical Fisher diagonal): Σ_i (∇ CE(x_i, y_i))², counted per sample;
- ``expected`` (Fisher Forgetting): Σ_i Σ_y p(y|x_i)·(∇ CE(x_i, y))², counted per sample.

Two runners share that accumulation (`ImportanceSums`):

- a plain loop on one device (the fast path: one device, no strategy, 32-bit precision);
- Lightning ``predict`` on any accelerator / devices / strategy (DESIGN §4): gradients are taken
  with ``torch.autograd.grad`` inside ``predict_step`` (never DDP-averaged before squaring), the
  sums and counts are all-reduced (SUM) once at the end, and each rank processes *whole batches of
  the single-process order* (rank r takes batches r, r+W, r+2W, ...), so no sample is duplicated
  or dropped and every estimator, ``batch`` included, sums exactly the single-process terms: the
  results equal the single-process ones up to float summation order.
"""

from __future__ import annotations

import logging
import multiprocessing
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
import torch.nn.functional as F
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.strategies.launchers.multiprocessing import _MultiProcessingLauncher
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from unlearn_bench.errors import UnlearnBenchError
from unlearn_bench.training.store import content_key, load_verified, save_verified

log = logging.getLogger(__name__)
# FixedBatches returns every index by construction (Lightning cannot check a custom batch sampler)
warnings.filterwarnings("ignore", message="You are using a custom batch sampler `FixedBatches`")

Importances = dict[str, torch.Tensor]
BatchEstimator = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[Importances, int]]

BACKENDS = ("auto", "loop", "lightning")


def _trainable(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


# --------------------------------------------------------------------------- estimators


def _squared_in_place(grads: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """g² for each gradient, computed in place (no second copy of the gradients).

    A gradient shared by two parameters or not stored densely (an expanded view) is copied first,
    so squaring one never squares another.
    """
    owned, seen = [], set()
    for g in grads:
        if g.data_ptr() in seen or not g.is_contiguous():
            g = g.clone(memory_format=torch.contiguous_format)
        seen.add(g.data_ptr())
        owned.append(g.detach())
    torch._foreach_mul_(owned, owned)
    return owned


def batch_estimator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Importances, int]:
    params = _trainable(model)
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), list(params.values()))
    return dict(zip(params, _squared_in_place(grads), strict=True)), 1


def _per_sample_grad_fn(model: nn.Module):
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def sample_loss(params, x, y):
        logits = functional_call(model, (params, buffers), (x.unsqueeze(0),))
        return F.cross_entropy(logits, y.unsqueeze(0))

    return vmap(grad(sample_loss), in_dims=(None, 0, 0))


def per_sample_estimator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Importances, int]:
    params = {n: p.detach() for n, p in _trainable(model).items()}
    grads = _per_sample_grad_fn(model)(params, x, y)
    return {n: (g**2).sum(0) for n, g in grads.items()}, len(y)


def expected_estimator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Importances, int]:
    """Fisher under the model's own predictive distribution: one vmapped gradient per (sample, class)."""
    params = {n: p.detach() for n, p in _trainable(model).items()}
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)
    n, classes = probs.shape
    grad_fn = _per_sample_grad_fn(model)
    sums = {name: torch.zeros_like(p) for name, p in params.items()}
    for c in range(classes):
        labels = torch.full((n,), c, dtype=torch.long, device=x.device)
        grads = grad_fn(params, x, labels)
        weight = probs[:, c]
        for name, g in grads.items():
            sums[name] += torch.einsum("b,b...->...", weight, g**2)
    return sums, n


ESTIMATORS: dict[str, BatchEstimator] = {
    "batch": batch_estimator,
    "per_sample": per_sample_estimator,
    "expected": expected_estimator,
}


def get_estimator(name: str) -> BatchEstimator:
    if name not in ESTIMATORS:
        raise ValueError(f"Unknown importance estimator {name!r}; choose one of {', '.join(ESTIMATORS)}.")
    return ESTIMATORS[name]


# --------------------------------------------------------------------------- accumulation


class ImportanceSums:
    """Running Σ of estimator sums (one flat buffer, views per parameter) and Σ of counts."""

    def __init__(self, params: Mapping[str, torch.Tensor]):
        dtype = torch.float64 if any(p.dtype == torch.float64 for p in params.values()) else torch.float32
        device = next(iter(params.values())).device if params else torch.device("cpu")
        self.flat = torch.zeros(sum(p.numel() for p in params.values()), dtype=dtype, device=device)
        self.views: dict[str, torch.Tensor] = {}
        offset = 0
        for name, p in params.items():
            self.views[name] = self.flat[offset:offset + p.numel()].view(p.shape)
            offset += p.numel()
        self.count = 0

    def add(self, sums: Importances, count: int) -> None:
        names = list(self.views)
        torch._foreach_add_([self.views[n] for n in names], [sums[n] for n in names])
        self.count += count

    def all_reduce(self, reduce: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Sum the buffer and the count over all ranks with `reduce` (an all-reduce SUM)."""
        count = torch.tensor([float(self.count)], dtype=torch.float64, device=self.flat.device)
        reduced = reduce(self.flat)
        if reduced is not self.flat:
            self.flat.copy_(reduced)
        self.count = int(reduce(count).item())

    def mean(self) -> Importances:
        """Σ sums / Σ counts, in place; the returned tensors are views of the flat buffer."""
        self.flat.div_(max(self.count, 1))
        return dict(self.views)


# --------------------------------------------------------------------------- plain loop


def _loop_pass(fn: BatchEstimator, model: nn.Module, loader: DataLoader, device: torch.device,
               desc: str, progress: bool) -> Importances:
    model = model.to(device).eval()
    sums = ImportanceSums(_trainable(model))
    with torch.enable_grad():
        for x, y in tqdm(loader, desc=desc, leave=False, disable=not progress):
            sums.add(*fn(model, x.to(device, non_blocking=True), y.to(device, non_blocking=True)))
    return sums.mean()


# --------------------------------------------------------------------------- Lightning predict


def loader_batches(loader: DataLoader) -> list[list[int]]:
    """The index batches the loader yields, in order (the single-process pass)."""
    if loader.batch_sampler is None or isinstance(loader.dataset, torch.utils.data.IterableDataset):
        raise UnlearnBenchError("The multi-device importance pass needs a map-style DataLoader with a batch size.")
    return [list(batch) for batch in loader.batch_sampler]


def rank_batches(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """Whole batches for one rank, round-robin: together the ranks cover each batch exactly once."""
    return batches[rank::world_size]


class FixedBatches(Sampler[list[int]]):
    """A batch sampler that yields a fixed list of index batches."""

    def __init__(self, batches: list[list[int]]):
        self.batches = batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class ImportancePass(L.LightningModule):
    """Lightning `predict` that sums an estimator over whole batches and all-reduces the sums."""

    def __init__(self, model: nn.Module, estimator: str, dataset: Dataset, batches: list[list[int]],
                 loader_kwargs: dict, result_path: str):
        super().__init__()
        self.model = model
        self.estimator = estimator
        self.dataset, self.batches, self.loader_kwargs = dataset, batches, loader_kwargs
        self.result_path = result_path
        self.result: Importances | None = None
        self._padding = False

    def predict_dataloader(self) -> DataLoader:
        mine = rank_batches(self.batches, self.global_rank, self.trainer.world_size)
        # a rank without batches still runs the loop (its all-reduce must happen) on a batch it ignores
        self._padding = not mine
        return DataLoader(self.dataset, batch_sampler=FixedBatches(mine or self.batches[:1]), **self.loader_kwargs)

    def on_predict_start(self) -> None:
        self.sums = ImportanceSums(_trainable(self.model))
        self.fn = get_estimator(self.estimator)

    def predict_step(self, batch: Any, batch_idx: int) -> int:
        """Adds the batch's estimator sums; returns the count it added (predictions are not kept)."""
        if self._padding:
            return 0
        x, y = batch
        with torch.enable_grad():
            sums, count = self.fn(self.model, x, y)
        self.sums.add(sums, count)
        return count

    def on_predict_epoch_end(self) -> None:
        self.sums.all_reduce(lambda t: self.trainer.strategy.reduce(t, reduce_op="sum"))
        self.result = self.sums.mean()
        if self.trainer.world_size > 1 and self.global_rank == 0:
            # spawned ranks cannot hand tensors back to the parent: rank 0 leaves them in a file
            torch.save({n: t.cpu() for n, t in self.result.items()}, self.result_path)

    def teardown(self, stage: str) -> None:
        """A spawned rank ends its process group before it exits.

        Lightning destroys only NCCL groups at exit; a rank whose gloo group is still alive at
        interpreter shutdown can abort ("terminate called without an active exception").
        """
        spawned = (isinstance(self.trainer.strategy.launcher, _MultiProcessingLauncher)
                   and multiprocessing.parent_process() is not None)
        if spawned and dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


class _DescribedProgressBar(TQDMProgressBar):
    def __init__(self, desc: str):
        super().__init__(leave=False)
        self._desc = desc

    @property
    def predict_description(self) -> str:
        return self._desc


def _setting(trainer_cfg: Mapping | None, key: str, default: Any) -> Any:
    if trainer_cfg is None:
        return default
    value = trainer_cfg.get(key, default)
    return default if value is None else value


def _check_strategy(strategy: str) -> None:
    """`ddp` re-executes sys.argv in each rank: under a Hydra --multirun that reruns the sweep."""
    if strategy != "ddp":
        return
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:  # noqa: BLE001 - outside Hydra there is nothing to check
        multirun = False
    if multirun:
        raise UnlearnBenchError("trainer.strategy=ddp re-runs the whole sweep under --multirun; use ddp_spawn.")


def _lightning_pass(estimator: str, model: nn.Module, loader: DataLoader, trainer_cfg: Mapping | None,
                    desc: str, progress: bool) -> Importances:
    strategy = str(_setting(trainer_cfg, "strategy", "auto"))
    _check_strategy(strategy)
    loader_kwargs = {"num_workers": loader.num_workers, "collate_fn": loader.collate_fn,
                     "pin_memory": loader.pin_memory, "worker_init_fn": loader.worker_init_fn}
    with tempfile.TemporaryDirectory(prefix="importance-") as tmp:
        result_path = str(Path(tmp) / "importances.pt")
        module = ImportancePass(model.eval(), estimator, loader.dataset, loader_batches(loader),
                                loader_kwargs, result_path)
        trainer = L.Trainer(
            accelerator=_setting(trainer_cfg, "accelerator", "auto"),
            devices=_setting(trainer_cfg, "devices", 1),
            strategy=strategy,
            precision=_setting(trainer_cfg, "precision", "32-true"),
            inference_mode=False,
            use_distributed_sampler=False,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=progress,
            callbacks=[_DescribedProgressBar(desc)] if progress else [],
            default_root_dir=tmp,
        )
        trainer.predict(module, return_predictions=False)
        if module.result is not None:
            return module.result
        return torch.load(result_path, map_location="cpu")


# --------------------------------------------------------------------------- entry point


def _fast_path_applies(trainer_cfg: Mapping | None) -> bool:
    """One device, no strategy, full precision: the plain loop does the same work with less overhead."""
    if trainer_cfg is None:
        return True
    return (str(_setting(trainer_cfg, "devices", 1)) == "1"
            and str(_setting(trainer_cfg, "strategy", "auto")) == "auto"
            and str(_setting(trainer_cfg, "precision", "32-true")) in ("32-true", "32"))


def compute_importance(estimator: str, model: nn.Module, loader: DataLoader, device: torch.device,
                       desc: str = "importance", *, trainer_cfg: Mapping | None = None,
                       backend: str = "auto") -> Importances:
    """Σ batch sums / Σ counts over the loader, model in eval mode.

    `trainer_cfg` (conf/trainer: accelerator, devices, strategy, precision, enable_progress_bar)
    selects Lightning's accelerator; without it, one local `device` with a progress bar.
    `backend`: "loop" (one `device`), "lightning" (trainer_cfg), or "auto" (the loop when
    `trainer_cfg` asks for one device, no strategy and 32-bit precision). Both give identical results.
    """
    fn = get_estimator(estimator)
    if backend not in BACKENDS:
        raise ValueError(f"Unknown importance backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    progress = bool(_setting(trainer_cfg, "enable_progress_bar", True))
    if backend == "loop" or (backend == "auto" and _fast_path_applies(trainer_cfg)):
        return _loop_pass(fn, model, loader, device, desc, progress)
    return _lightning_pass(estimator, model, loader, trainer_cfg, desc, progress)


# --------------------------------------------------------------------------- store


class ImportanceStore:
    """Importances of a model's full training set, stored once under `root/<key>.pt`.

    The key is a hash of `material` (the caller names the model's content hash, the dataset and
    subset, the estimator and its batch size). Files are written atomically with a sha256 sidecar;
    a file that fails its check or does not hold importances is recomputed.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def load(self, key: str) -> Importances | None:
        payload = load_verified(self.path(key))
        if payload is None:
            return None
        importances = payload.get("importances") if isinstance(payload, dict) else None
        if not isinstance(importances, dict) or not all(isinstance(t, torch.Tensor) for t in importances.values()):
            log.warning("Stored importances %s are malformed; recomputing them.", self.path(key))
            return None
        return importances

    def get_or_compute(self, material: dict, compute: Callable[[], Importances],
                       use_cache: bool = True) -> tuple[Importances, dict]:
        """Read the stored importances for `material`; compute and store them when absent or corrupt."""
        key = content_key(material)
        start = time.perf_counter()
        cached = self.load(key) if use_cache else None
        if cached is not None:
            return cached, {"key": key, "cache_hit": True, "seconds": time.perf_counter() - start}
        importances = {n: t.detach().cpu() for n, t in compute().items()}
        seconds = time.perf_counter() - start
        save_verified(self.path(key), {"importances": importances, "material": material})
        return importances, {"key": key, "cache_hit": False, "seconds": seconds}
