"""The files a run saves beside its results.json: the unlearned model's weights (safetensors, with
what produced them in its metadata) and the same facts as a readable JSON sidecar. `record["artifacts"]`
lists them as {name: path relative to the run folder}."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from torch import nn

from unlearn_bench.cache.files import atomic_write_bytes
from unlearn_bench.cache.tensor_file import write_tensor_file

UNLEARNED_MODEL = "unlearned_model.safetensors"
UNLEARNED_MODEL_INFO = "unlearned_model.json"
# the record's fields that say what a saved model is
CARD_FIELDS = ("method", "dataset", "model", "architecture", "task", "forget", "seed")


def model_card(cfg: DictConfig, record: dict) -> dict:
    """What produced the unlearned model, and how to rebuild its network."""
    return {**{k: record.get(k) for k in CARD_FIELDS},
            "num_classes": cfg.dataset.num_classes,
            "net": OmegaConf.to_container(cfg.model.net, resolve=True)}


def save_artifacts(cfg: DictConfig, record: dict, unlearned: nn.Module, folder: str | Path | None = None
                   ) -> dict[str, str]:
    """Write the run's files (unless save.unlearned_model=false) into `folder` (the run folder unless
    given); their names relative to it."""
    save = cfg.get("save") or {}
    if not save.get("unlearned_model", True):
        return {}
    out = Path(cfg.paths.output_dir if folder is None else folder)
    card = model_card(cfg, record)
    write_tensor_file(out / UNLEARNED_MODEL, unlearned.state_dict(), card)
    atomic_write_bytes(out / UNLEARNED_MODEL_INFO, json.dumps(card, indent=2, default=str).encode())
    return {"unlearned_model": UNLEARNED_MODEL, "unlearned_model_info": UNLEARNED_MODEL_INFO}
