"""Evaluate-only: score a saved model on an experiment's splits with the run's own evaluation.

    python -m unlearn_bench.evaluate run_dir=RUN_FOLDER [key=value ...]
    python -m unlearn_bench.evaluate model_file=PATH [the overrides of the run that saved it]

RUN_FOLDER: a run's folder (or one job's folder of a multirun): its own overrides (.hydra/overrides.yaml)
and its unlearned_model.safetensors, so that nothing needs retyping; overrides given beside it win.
PATH: a run's unlearned_model.safetensors, or any state dict of the configured model (.pt/.pth,
.safetensors, a .ckpt of this suite). The original and gold models are scored beside it when the
model store holds them (nothing is trained), and with a gold model the gap and distance to it.
results.json (marked "mode": "evaluate") goes to a new run folder. The config is the run's own
(conf/config.yaml) plus `model_file`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from unlearn_bench.artifacts import UNLEARNED_MODEL
from unlearn_bench.cache.tensor_file import InvalidEntry, decode
from unlearn_bench.errors import UnlearnBenchError, build
from unlearn_bench.interrupts import FinalWrite
from unlearn_bench.metrics.evaluate import paper_columns
from unlearn_bench.metrics.objective import distance_to_gold
from unlearn_bench.models.checkpoint import (
    load_state_dict_file,
    load_weights,
    original_checkpoint,
    original_from_checkpoint,
)
from unlearn_bench.pipeline import (
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
from unlearn_bench.protocol import check_protocol
from unlearn_bench.rescue import save_run
from unlearn_bench.results import format_table, versions
from unlearn_bench.sweep_size import override_key
from unlearn_bench.training.store import ModelStore
from unlearn_bench.validation import validate_config

log = logging.getLogger(__name__)
KEY = "model_file"
RUN_DIR = "run_dir"
# what Hydra writes into every run folder (and each multirun job's): the run's command-line overrides
RUN_OVERRIDES = Path(".hydra") / "overrides.yaml"


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


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Scores the model the run saved: at scale=cpu/smoke that is the scale's stand-in, as in the run."""
    from unlearn_bench.job import single_run
    from unlearn_bench.standin import with_stand_in

    return single_run(with_stand_in(cfg), evaluate_saved)


def with_model_file(argv: list[str]) -> list[str]:
    """`model_file=PATH` adds a key to the run's config: Hydra spells that `+model_file=PATH`."""
    return [f"+{arg}" if arg.startswith(f"{KEY}=") else arg for arg in argv]


def _is_override(arg: str) -> bool:
    """`key=value`, `+key=value` or `~key`, not a flag or a flag's value (`--cfg job`)."""
    return not arg.startswith("-") and ("=" in arg or arg.startswith("~"))


def run_overrides(run_dir: Path) -> list[str]:
    """The command-line overrides of the run saved in `run_dir`."""
    path = run_dir / RUN_OVERRIDES
    if not path.is_file():
        raise UnlearnBenchError(f"{RUN_DIR}={run_dir} has no {RUN_OVERRIDES}: pass the folder of one run "
                                "(outputs/<date>/<time>_..., or one numbered job folder of a multirun).")
    try:
        overrides = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same sentence
        raise UnlearnBenchError(f"{path} cannot be read as Hydra's list of overrides ({err}).") from None
    if not isinstance(overrides, list):
        raise UnlearnBenchError(f"{path} is not Hydra's list of overrides.")
    return [str(o) for o in overrides]


def saved_model(run_dir: Path) -> Path:
    """The unlearned model the run in `run_dir` saved."""
    path = run_dir / UNLEARNED_MODEL
    if not path.is_file():
        raise UnlearnBenchError(f"{RUN_DIR}={run_dir} holds no {UNLEARNED_MODEL} (the run did not finish, or "
                                f"saved none with save.unlearned_model=false); pass {KEY}=PATH instead.")
    return path


def with_run_dir(argv: list[str]) -> list[str]:
    """`run_dir=FOLDER` stands for that run's own overrides, `hydra.mode=RUN` (a grid's job is one run)
    and its saved model as model_file; any key the other arguments set wins over the run's."""
    places = [i for i, arg in enumerate(argv) if arg.startswith(f"{RUN_DIR}=")]
    if not places:
        return argv
    run_dir = Path(argv[places[-1]].partition("=")[2])
    others = [arg for i, arg in enumerate(argv) if i not in places]
    keys = {override_key(arg) for arg in others if _is_override(arg)}
    added = [*run_overrides(run_dir), "hydra.mode=RUN"]
    if KEY not in keys:
        added.append(f"{KEY}={saved_model(run_dir)}")
    added = [override for override in added if override_key(override) not in keys]
    at = places[0]  # in place of run_dir=, so the flags stay where they were among the overrides
    return others[:at] + added + others[at:]


def evaluate_cli() -> None:
    """The console script `unlearn-bench-evaluate` (= python -m unlearn_bench.evaluate)."""
    import sys

    from unlearn_bench.__main__ import cli

    try:
        sys.argv = [sys.argv[0], *with_model_file(with_run_dir(sys.argv[1:]))]
    except UnlearnBenchError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    cli(main)


if __name__ == "__main__":
    evaluate_cli()
