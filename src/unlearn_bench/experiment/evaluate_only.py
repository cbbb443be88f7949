"""Evaluate-only runs: a saved model scored on its experiment's splits with the run's own evaluation
(the command: python -m unlearn_bench.evaluate)."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from unlearn_bench.cache.tensor_file import InvalidEntry, decode
from unlearn_bench.cli.interrupts import FinalWrite
from unlearn_bench.experiment.protocol import check_protocol
from unlearn_bench.experiment.record import format_table, make_record
from unlearn_bench.experiment.rescue import save_run
from unlearn_bench.experiment.scoring import score
from unlearn_bench.experiment.setup import Experiment, gold_material, open_experiment
from unlearn_bench.experiment.validation import validate_config
from unlearn_bench.models.checkpoint import (
    load_state_dict_file,
    load_weights,
    original_checkpoint,
    original_from_checkpoint,
)
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


def reference_models(exp: Experiment) -> dict:
    """The original and gold models of this experiment that exist already (never trained here)."""
    material = exp.material()
    found = {}
    source = original_checkpoint(exp.cfg.model)
    if source is not None:
        found["original"] = original_from_checkpoint(exp.build_model(), source)
    else:
        found["original"] = exp.store.get({**material, "role": "original"}, exp.initial_model)
    found["gold"] = exp.store.get(gold_material(material, exp.split), exp.initial_model)
    return {role: pair for role, pair in found.items() if pair is not None}


def evaluate_saved(cfg: DictConfig) -> dict:
    """Score cfg.model_file (and the stored original and gold models) as a run scores its unlearned model
    (experiment/scoring.py); write and return the record."""
    if not cfg.get(KEY):
        raise UnlearnBenchError(f"{KEY} is not set: python -m unlearn_bench.evaluate {RUN_DIR}=RUN_FOLDER, or "
                                f"{KEY}=PATH [the run's overrides].")
    validate_config(cfg)
    task = build(cfg.task)
    check_protocol(cfg.protocol.name)
    exp = open_experiment(cfg, task)  # a scored selection reads its models from the store
    split = exp.split
    path = str(cfg.model_file)
    model = load_weights(exp.build_model(), load_state_dict_file(path, KEY), path, KEY)
    card = saved_card(path)
    _check_card(card, {"dataset": cfg.dataset.name, "task": split.task, "forget": split.target, "seed": cfg.seed})
    references = reference_models(exp)
    infos = {role: info for role, (_, info) in references.items()}
    verdict, lens_s = score(exp, {"unlearned": model, **{role: net for role, (net, _) in references.items()}},
                            infos, label=path)
    record = make_record(
        cfg, split, verdict, method=card.get("method") or "external", data_used=None, data_read=None,
        protocol={"name": cfg.protocol.name, "importance_order": None, "importance_stored": None},
        timing={"method_s": None, "measured_s": None, "importance_s": None,
                "original_train_s": infos.get("original", {}).get("train_s"),
                "gold_train_s": infos.get("gold", {}).get("train_s"), "lenses_s": lens_s},
        method_report=None, models=infos, mode="evaluate", model_file=path)
    with FinalWrite() as final:
        results = save_run(cfg, record, None)
        final.written = str(results)
    print(f"\n{split.describe()} — {path} (accuracies and MIA in %)\n{format_table(record)}\n")
    log.info("Results written to %s", results)
    return record
