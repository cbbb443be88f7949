"""The evaluate command's arguments: `run_dir=FOLDER` stands for that run's overrides and saved model,
`model_file=PATH` becomes a key of the run's config."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from unlearn_bench.experiment.evaluate_only import KEY, RUN_DIR
from unlearn_bench.experiment.saved_model import UNLEARNED_MODEL
from unlearn_bench.sweep.size import override_key
from unlearn_bench.utils.errors import UnlearnBenchError

# what Hydra writes into every run folder (and each multirun job's): the run's command-line overrides
RUN_OVERRIDES = Path(".hydra") / "overrides.yaml"


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
