"""The block a grid prints before its first job: how many jobs, in which folder, the models they
train (in the model store already, or to train) and a rough time from what was recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from unlearn_bench.sweep.estimate import finished_jobs, training_time, unlearning_time
from unlearn_bench.sweep.plan import (
    GIVEN,
    IN_STORE,
    TO_TRAIN,
    UNKNOWN,
    GridModels,
    PlannedModel,
    grid_models,
)
from unlearn_bench.sweep.size import is_search, sweep_size
from unlearn_bench.training.callbacks import duration


def describe(config: DictConfig, compose: Callable[[list[str]], DictConfig]) -> str:
    """The block for the sweep `config` describes (the sweep's parent config); `compose(overrides)`
    composes one job's config (Hydra's ConfigLoader.load_sweep_config)."""
    folder = str(config.hydra.sweep.dir)
    resumable = not is_search(config)  # a search resumes from its study, not from its folder
    finished = finished_jobs(Path(folder))
    grid = grid_models(config, compose)
    return "\n".join([_jobs_line(sweep_size(config), folder, resumable, len(finished)), *_model_lines(grid),
                      _time_line(grid, finished)])


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _jobs_line(jobs: int | None, folder: str, resumable: bool, finished: int) -> str:
    line = f"Sweep of {_plural(jobs, 'job') if jobs is not None else 'an unknown number of jobs'} in {folder}"
    if resumable:
        line += " (resume: rerun the same command)"
    if finished:
        line += (f"; {finished} {'has' if finished == 1 else 'have'} results from an earlier invocation (skipped "
                 "where the job's config is unchanged)")
    return line + "."


def _model_lines(grid: GridModels) -> list[str]:
    if grid.models is None:
        return [f"Models: not listed ({grid.why})."]
    counts = [(sum(m.status == status for m in grid.models), status) for status in (TO_TRAIN, IN_STORE, UNKNOWN, GIVEN)]
    summary = ", ".join(f"{n} {status}" for n, status in counts if n or status in (TO_TRAIN, IN_STORE))
    rows = [(_label(group), status) for group, status in _by_seeds(grid.models)]
    width = max(len(label) for label, _ in rows)
    return [f"Models: {summary}:", *(f"  {label:<{width}}  {status}" for label, status in rows)]


def _by_seeds(models: list[PlannedModel]) -> list[tuple[list[PlannedModel], str]]:
    """The models in groups that differ only in their seed, one group per status."""
    groups: dict[tuple, list[PlannedModel]] = {}
    for m in models:
        groups.setdefault((m.role, m.model, m.dataset, m.forget, m.status), []).append(m)
    return [(group, key[-1]) for key, group in groups.items()]


def _label(group: list[PlannedModel]) -> str:
    """`gold cnn digits seeds 0-2 forget 3`; `(4 models)` where settings the label leaves out differ."""
    first, seeds = group[0], sorted({m.seed for m in group})
    label = f"{first.role} {first.model} {first.dataset} {'seed' if len(seeds) == 1 else 'seeds'} {_runs(seeds)}"
    if first.forget:
        label += f" forget {first.forget}"
    return label + (f" ({len(group)} models)" if len(group) > len(seeds) else "")


def _runs(numbers: list[int]) -> str:
    """0-3, 7, 9: runs of consecutive numbers as first-last."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def _time_line(grid: GridModels, finished: list[dict]) -> str:
    if grid.models is None:
        training = "no estimate of the training time (the models are not listed)"
    else:
        to_train = [m for m in grid.models if m.status == TO_TRAIN]
        unknown = sum(m.status == UNKNOWN for m in grid.models)
        estimate = training_time(to_train)
        if not to_train:
            training = f"no estimate for the {_plural(unknown, 'unknown model')}" if unknown else "nothing to train"
        elif estimate is None:
            training = "no estimate: no comparable model in the store yet"
        else:
            training = (f"~{duration(estimate.seconds)} training for {estimate.estimated} of "
                        f"{_plural(estimate.to_train, 'model')} to train (median of "
                        f"{_plural(estimate.comparable, 'comparable model')} in the store)")
            if unknown:
                training += f", more for the {_plural(unknown, 'unknown model')}"
    unlearning = unlearning_time(finished)
    if unlearning is None:
        per_job = "no unlearning time recorded yet"
    else:
        per_job = (f"~{duration(unlearning.per_job)} unlearning per job (median of "
                   f"{_plural(unlearning.finished, 'finished job')} in this folder)")
    return f"Time: {training}; {per_job}."
