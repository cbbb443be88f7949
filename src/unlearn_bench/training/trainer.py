"""The one place a `lightning.Trainer` is built, from `cfg.trainer` (conf/trainer/).

`cfg.trainer` holds any argument `lightning.Trainer` accepts, plus the suite's own keys (SUITE_KEYS).
The suite sets a few Trainer arguments itself (OWNED: the epochs come from the recipe, the callbacks,
checkpoints and logger from the suite); setting one of them, or a key Lightning does not know, is
refused before any work starts.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import lightning as L

from unlearn_bench.utils.errors import UnlearnBenchError

# the suite's own trainer keys (read by the suite, never passed to Lightning)
SUITE_KEYS = {
    "channels_last": "model and batches in NHWC memory layout",
    "compile": "torch.compile the network for training",
    "importance_precision": "numeric precision of the importance passes",
    "num_threads": "torch's intra-op threads in this process (null: torch's default)",
}

# Trainer arguments the suite sets itself, and where the user sets what they control instead
OWNED = {
    "max_epochs": "training.epochs",
    "min_epochs": "training.epochs",
    "max_steps": "training.epochs",
    "min_steps": "training.epochs",
    "callbacks": "the suite's own callbacks (checkpoints, best epoch, progress)",
    "logger": "logger=wandb",
    "enable_checkpointing": "save.training_checkpoints and paths.checkpoint_dir",
    "default_root_dir": "paths.root_dir",
    "use_distributed_sampler": "the suite's batching (it shards batches per rank itself)",
    "inference_mode": "the importance pass (it needs gradients)",
}

# what a predict-only pass (the importance pass) takes from cfg.trainer: where and how to compute,
# never the training loop's limits (a limited predict pass would sum part of the data)
HARDWARE_KEYS = ("accelerator", "strategy", "devices", "num_nodes", "precision", "plugins", "deterministic",
                 "benchmark", "detect_anomaly", "enable_progress_bar", "enable_model_summary", "profiler",
                 "sync_batchnorm")

# Trainer arguments that do not change the weights training produces (left out of the model store's key)
NOT_WEIGHTS = set(HARDWARE_KEYS) - {"precision", "sync_batchnorm"} | {"log_every_n_steps", "barebones",
                                                                      "enable_autolog_hparams",
                                                                      "model_registry", "num_sanity_val_steps"}

# what the suite passes unless cfg.trainer says otherwise
DEFAULTS = {"accelerator": "auto", "devices": 1, "strategy": "auto", "precision": "32-true",
            "enable_model_summary": False, "num_sanity_val_steps": 0}


LIGHTNING_ARGUMENTS = frozenset(inspect.signature(L.Trainer.__init__).parameters) - {"self"}


def _settings(trainer_cfg: Any) -> dict:
    """cfg.trainer as a plain dict (a DictConfig, a dict, or None)."""
    if trainer_cfg is None:
        return {}
    if isinstance(trainer_cfg, Mapping):
        return dict(trainer_cfg)
    from omegaconf import OmegaConf

    return OmegaConf.to_container(trainer_cfg, resolve=True)


def check_trainer_settings(trainer_cfg: Any) -> None:
    """Refuse a cfg.trainer key that Lightning does not know, or one the suite sets itself."""
    known = LIGHTNING_ARGUMENTS
    for key, value in _settings(trainer_cfg).items():
        if key in SUITE_KEYS:
            continue
        if key in OWNED:
            if value is None:
                continue
            raise UnlearnBenchError(f"trainer.{key} is set by the suite, not by trainer.*: remove it "
                                    f"(what it controls is set through {OWNED[key]}).")
        if key not in known:
            close = [k for k in sorted(known | set(SUITE_KEYS)) if _close(key, k)]
            hint = f" (did you mean trainer.{close[0]}?)" if close else ""
            raise UnlearnBenchError(f"trainer.{key} is not an argument of lightning.Trainer nor one of the "
                                    f"suite's trainer keys{hint}; remove it or fix its name.")


def _close(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() > 0.8


def trainer_arguments(trainer_cfg: Any, hardware_only: bool = False) -> dict:
    """The Lightning arguments of cfg.trainer (the suite's keys and unset ones left out), over DEFAULTS."""
    settings = {k: v for k, v in _settings(trainer_cfg).items()
                if k not in SUITE_KEYS and k not in OWNED and v is not None}
    if hardware_only:
        settings = {k: v for k, v in settings.items() if k in HARDWARE_KEYS}
    return {**DEFAULTS, **settings}


def weight_settings(trainer_cfg: Any) -> dict:
    """The cfg.trainer settings, beyond today's defaults, that change what training produces (part of
    a trained model's store key: a model clipped or limited to some batches is another model)."""
    return {k: v for k, v in trainer_arguments(trainer_cfg).items()
            if k not in NOT_WEIGHTS and k != "precision" and DEFAULTS.get(k, object()) != v}


def build_trainer(trainer_cfg: Any, *, hardware_only: bool = False, **owned: Any) -> L.Trainer:
    """A lightning.Trainer from cfg.trainer, with the suite's own arguments (`owned`: max_epochs,
    callbacks, logger, ...) on top. hardware_only: only where/how to compute (a predict pass)."""
    check_trainer_settings(trainer_cfg)
    return L.Trainer(**{**trainer_arguments(trainer_cfg, hardware_only), **owned})
