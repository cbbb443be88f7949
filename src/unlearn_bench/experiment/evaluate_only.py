"""Evaluate-only runs: a saved model scored on its experiment's splits with the run's own evaluation
(the command: python -m unlearn_bench.evaluate)."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from unlearn_bench.cache.tensor_file import InvalidEntry, decode
from unlearn_bench.cli.interrupts import FinalWrite
from unlearn_bench.experiment.pipeline import (
    Experiment,
    forget_split,
    gold_material,
    load_data,
    resolve_device,
    run_identity,
    scorer,
    split_record,
    split_sets,
)
from unlearn_bench.experiment.protocol import check_protocol
from unlearn_bench.experiment.record import format_table, versions
from unlearn_bench.experiment.rescue import save_run
from unlearn_bench.experiment.validation import validate_config
from unlearn_bench.metrics.objective import distance_to_gold
from unlearn_bench.metrics.split_metrics import paper_columns
from unlearn_bench.models.checkpoint import (
    load_state_dict_file,
    load_weights,
    original_checkpoint,
    original_from_checkpoint,
)
from unlearn_bench.training.store import ModelStore
from unlearn_bench.utils.errors import UnlearnBenchError, build

log = logging.getLogger(__name__)
KEY = "model_file"
RUN_DIR = "run_dir"



def saved_card(path: str) -> dict:
    """What produced a model saved by a run (empty for a foreign file)."""
    if not path.endswith(".safetensors"):
        return {}
    try:
        return decode(Path(path).read_bytes())[1]
    except (OSError, InvalidEntry):
        return {}


def _check_card(card: dict, expected: dict) -> None:
    differ = [f"{k}={card[k]!r} (this config: {v!r})" for k, v in expected.items()
              if card.get(k) is not None and str(card[k]) != str(v)]
    if differ:
        log.warning("The saved model was made for another experiment: %s; pass the overrides of the run that "
                    "saved it.", ", ".join(differ))


def reference_models(exp: Experiment, store: ModelStore) -> dict:
    """The original and gold models of this experiment that exist already (never trained here)."""
    material = exp.material()
    found = {}
    source = original_checkpoint(exp.cfg.model)
    if source is not None:
        found["original"] = original_from_checkpoint(exp.build_model(), source)
    else:
        found["original"] = store.get({**material, "role": "original"}, exp.initial_model)
    found["gold"] = store.get(gold_material(material, exp.split), exp.initial_model)
    return {role: pair for role, pair in found.items() if pair is not None}


def evaluate_saved(cfg: DictConfig) -> dict:
    """Score cfg.model_file (and the stored original and gold models); write and return the record."""
    if not cfg.get(KEY):
        raise UnlearnBenchError(f"{KEY} is not set: python -m unlearn_bench.evaluate {RUN_DIR}=RUN_FOLDER, or "
                                f"{KEY}=PATH [the run's overrides].")
    validate_config(cfg)
    task = build(cfg.task)
    check_protocol(cfg.protocol.name)
    device = resolve_device(cfg.trainer.accelerator)
    data = load_data(cfg)
    store = ModelStore(Path(cfg.paths.cache_dir) / "models")
    split = forget_split(cfg, task, data, store, device)  # a scored selection reads its models from the store
    exp = Experiment(cfg, data, split)
    path = str(cfg.model_file)
    model = load_weights(exp.build_model(), load_state_dict_file(path, KEY), path, KEY)
    card = saved_card(path)
    _check_card(card, {"dataset": cfg.dataset.name, "task": split.task, "forget": split.target, "seed": cfg.seed})
    score = scorer(cfg, split_sets(exp, split), device, build(cfg.training))
    references = reference_models(exp, store)
    metrics = {"unlearned": score(model), **{role: score(net) for role, (net, _) in references.items()}}
    columns = {role: paper_columns(m, split.task) for role, m in metrics.items()}
    record = {
        "mode": "evaluate",
        "model_file": path,
        "method": card.get("method") or "external",
        **run_identity(cfg, split),
        "metrics": metrics,
        "paper_columns": columns,
        "split": split_record(split),
        "models": {role: info for role, (_, info) in references.items()},
        "config": OmegaConf.to_container(cfg, resolve=True),
        "versions": versions(),
    }
    if "gold" in metrics:
        record["gap_to_gold"] = {k: metrics["unlearned"][k] - metrics["gold"][k] for k in metrics["gold"]}
        record["distance_to_gold"] = distance_to_gold(columns["unlearned"], columns["gold"])
    else:
        log.info("No gold model of this experiment in the model store: no gap to gold.")
    with FinalWrite() as final:
        results = save_run(cfg, record, None)
        final.written = str(results)
    shown = {**record, "timing": {"method_s": None}, "gap_to_gold": record.get("gap_to_gold", {}),
             "metrics": {role: metrics.get(role, {}) for role in ("unlearned", "original", "gold")}}
    print(f"\n{split.describe()} — {path} (accuracies and MIA in %)\n{format_table(shown)}\n")
    log.info("Results written to %s", results)
    return record
