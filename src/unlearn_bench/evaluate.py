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

import sys

import hydra
from omegaconf import DictConfig

from unlearn_bench.cli.entry import run_entry
from unlearn_bench.cli.evaluate_args import with_model_file, with_run_dir
from unlearn_bench.cli.job import single_run
from unlearn_bench.experiment.evaluate_only import evaluate_saved
from unlearn_bench.experiment.standin import save_config_that_runs, with_stand_in
from unlearn_bench.utils.errors import UnlearnBenchError


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Scores the model the run saved: at scale=cpu/smoke that is the scale's stand-in, as in the run."""
    return single_run(save_config_that_runs(with_stand_in(cfg)), evaluate_saved)


def evaluate_cli() -> None:
    """The console script `unlearn-bench-evaluate` (= python -m unlearn_bench.evaluate)."""
    try:
        sys.argv = [sys.argv[0], *with_model_file(with_run_dir(sys.argv[1:]))]
    except UnlearnBenchError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    run_entry(main)


if __name__ == "__main__":
    evaluate_cli()
