"""The Lightning ``predict`` runner, on any accelerator / devices / strategy (DESIGN §4).

Gradients are taken with ``torch.autograd.grad`` inside ``predict_step`` (never DDP-averaged before
squaring), the sums and counts are all-reduced (SUM) once at the end, and each rank processes
*whole batches of the single-process order* (rank r takes batches r, r+W, r+2W, ...), so no sample
is duplicated or dropped and every estimator, ``batch`` included, sums exactly the single-process
terms: the results equal the single-process ones up to float summation order.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from unlearn_bench.importance.estimators import Importances, get_estimator, trainable
from unlearn_bench.importance.sums import ImportanceSums
from unlearn_bench.training.trainer import build_trainer
from unlearn_bench.utils.distributed import end_spawned_process_group
from unlearn_bench.utils.errors import UnlearnBenchError
from unlearn_bench.utils.precision import trainer_setting

# FixedBatches returns every index by construction (Lightning cannot check a custom batch sampler)
warnings.filterwarnings("ignore", message="You are using a custom batch sampler `FixedBatches`")

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
        self.sums = ImportanceSums(trainable(self.model))
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
            save_file({n: t.cpu().contiguous() for n, t in self.result.items()}, self.result_path)

    def teardown(self, stage: str) -> None:
        end_spawned_process_group(self.trainer)


class _DescribedProgressBar(TQDMProgressBar):
    def __init__(self, desc: str):
        super().__init__(leave=False)
        self._desc = desc

    @property
    def predict_description(self) -> str:
        return self._desc


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


def lightning_pass(estimator: str, model: nn.Module, loader: DataLoader, trainer_cfg: Mapping | None,
                    desc: str, progress: bool) -> Importances:
    strategy = str(trainer_setting(trainer_cfg, "strategy", "auto"))
    _check_strategy(strategy)
    loader_kwargs = {"num_workers": loader.num_workers, "collate_fn": loader.collate_fn,
                     "pin_memory": loader.pin_memory, "worker_init_fn": loader.worker_init_fn}
    with tempfile.TemporaryDirectory(prefix="importance-") as tmp:
        result_path = str(Path(tmp) / "importances.safetensors")
        module = ImportancePass(model.eval(), estimator, loader.dataset, loader_batches(loader),
                                loader_kwargs, result_path)
        trainer = build_trainer(
            trainer_cfg,
            hardware_only=True,
            inference_mode=False,
            use_distributed_sampler=False,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=progress,
            callbacks=[_DescribedProgressBar(desc)] if progress else [],
            default_root_dir=tmp,
        )
        trainer.predict(module, return_predictions=False)
        if module.result is not None:
            return module.result
        return load_file(result_path)

