"""`--help` (conf/hydra/help/unlearn_bench.yaml): the config groups users choose from, each with its
choices, the package's and those under $UNLEARN_BENCH_ROOT/conf alike. Groups that other choices
select for the user stay out of the listing but work as before."""

from __future__ import annotations

# composed for the user from their choices: dataset_model and model_training by dataset and model,
# training (the recipe's defaults) and paths always, setting by experiment=table1's grid
INTERNAL_GROUPS = ("dataset_model", "model_training", "method_model", "method_dataset", "method_protocol", "setting",
                   "training", "paths")


def is_user_group(group: str) -> bool:
    return group not in INTERNAL_GROUPS and group != "hydra" and not group.startswith("hydra/")


def group_line(group: str, choices: list[str], current: str | None) -> str:
    now = f" (now: {current})" if current in choices else ""
    return f"  {group}: {', '.join(choices)}{now}"


def user_groups() -> str:
    """${user_config_groups:}: one line per user group, `group: choice, ... (now: choice)`, from the
    config search path of the running command."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.object_type import ObjectType

    loader = GlobalHydra.instance().config_loader()
    hydra = HydraConfig.get() if HydraConfig.initialized() else None
    current = hydra.runtime.choices if hydra else {}
    # with the config and the command line, so that the search path holds $UNLEARN_BENCH_ROOT/conf
    composed = {"config_name": hydra.job.config_name if hydra else "config",
                "overrides": [*hydra.overrides.hydra, *hydra.overrides.task] if hydra else []}
    groups = loader.get_group_options("", results_filter=ObjectType.GROUP, **composed)
    lines = [group_line(group, loader.get_group_options(group, **composed), current.get(group))
             for group in sorted(groups) if is_user_group(group)]
    return "\n".join(lines)


def register() -> None:
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("user_config_groups"):
        OmegaConf.register_new_resolver("user_config_groups", user_groups)
