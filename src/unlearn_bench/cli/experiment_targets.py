"""The forget targets of the experiment presets' grids (conf/experiment/): those given on the command
line (task.forget=cat,dog, e.g. the class folders of dataset=image_folder), else the preset's own for
the dataset. A grid with neither stops before Hydra starts it: one sentence, exit 2 (`grid_refusal`),
where the failed interpolation would otherwise be Hydra's traceback."""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf

from unlearn_bench.sweep.size import override_key

FORGET = "task.forget"
# conf/setting/as_given.yaml: Table 1's grid on the dataset and task given on the command line
AS_GIVEN = "as_given"
# Hydra flags after which nothing runs a grid (help, printing the config, shell completion) or that
# point at another config than the package's
NO_GRID_FLAGS = ("-h", "--help", "--hydra-help", "-c", "--cfg", "-i", "--info", "-sc", "--shell-completion",
                 "-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir", "--experimental-rerun")


def command_line_value(root: DictConfig, key: str) -> str | None:
    """The value the command line gives `key` (its last `key=...` in hydra.overrides.task), else None."""
    value = None
    for override in OmegaConf.select(root, "hydra.overrides.task", default=None) or []:
        if "=" in str(override) and override_key(str(override)) == key:
            value = str(override).partition("=")[2]
    return value


def _no_targets(root: DictConfig, dataset: str) -> Exception:
    from unlearn_bench.utils.errors import UnlearnBenchError

    experiment = OmegaConf.select(root, "hydra.runtime.choices.experiment", default=None)
    grid = f"experiment={experiment}" if experiment else "this grid"
    return UnlearnBenchError(
        f"{grid} has no forget targets for dataset {dataset}: pass them with {FORGET}=NAME[,NAME...] (names or "
        "indices of its classes; for dataset=image_folder, its class folders).")


def forget_targets(per_dataset: DictConfig | None, dataset: str, *, _root_: DictConfig) -> str:
    """${forget_targets:${grid.forget},${dataset.name}}: the targets a preset's grid sweeps as task.forget."""
    given = command_line_value(_root_, FORGET)
    if given is not None:
        return given
    if per_dataset is not None and dataset in per_dataset:
        return str(per_dataset[dataset])
    raise _no_targets(_root_, dataset)


def paper_settings(settings: str, *, _root_: DictConfig) -> str:
    """${paper_settings:${grid.settings}} (Table 1): the paper's settings, each naming its own dataset;
    with dataset=... on the command line that dataset instead, with the task as given (class forgetting
    of task.forget=..., or task=random)."""
    if command_line_value(_root_, "dataset") is None:
        return settings
    if _root_.task.name != "random" and command_line_value(_root_, FORGET) is None:
        raise _no_targets(_root_, _root_.dataset.name)
    return AS_GIVEN


def _grid_overrides(argv: Sequence[str]) -> list[str] | None:
    """The overrides of a command line that may start an experiment grid, else None."""
    if any(arg.partition("=")[0] in NO_GRID_FLAGS for arg in argv):
        return None
    overrides = [arg for arg in argv if "=" in arg and not arg.startswith("-")]
    if not any(override_key(o) == "experiment" and not o.endswith("=null") for o in overrides):
        return None
    return overrides


def grid_refusal(argv: Sequence[str]) -> str | None:
    """The sentence that stops an experiment grid without forget targets, else None. The grid's
    parameters are resolved from the config Hydra's sweep starts from (sweep overrides left out)."""
    overrides = _grid_overrides(argv)
    if overrides is None:
        return None
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from unlearn_bench.conf import CONF_DIR
    from unlearn_bench.utils.errors import user_error

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            loader = GlobalHydra.instance().config_loader()
            cfg = loader.load_configuration("config", overrides, run_mode=RunMode.MULTIRUN)
            multirun = cfg.hydra.mode == RunMode.MULTIRUN or any(a in ("-m", "--multirun") for a in argv)
            if multirun:
                OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True)
    except Exception as err:  # noqa: BLE001 - any other problem is Hydra's to report, as without this check
        cause = user_error(err)
        return None if cause is None else str(cause)
    return None


def register() -> None:
    for name, resolver in (("forget_targets", forget_targets), ("paper_settings", paper_settings)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
