"""How much of an unlearned model's change is its BatchNorm running statistics: scores each saved unlearned
model of the given run folders as it is and again with the original model's BatchNorm buffers copied in.

    UNLEARN_BENCH_ROOT=STORE python scripts/bn_statistics_check.py RUN_FOLDER [...] -- [the runs' overrides]

Every run folder must come from the same experiment (the overrides after --, as the runs were given them);
the original is read from the model store, never trained here (a missing one is an error)."""

from __future__ import annotations

import sys

import torch
from hydra import compose, initialize_config_dir

from unlearn_bench.conf import CONF_DIR
from unlearn_bench.experiment.evaluate_only import reference_models
from unlearn_bench.experiment.scoring import metrics_of
from unlearn_bench.experiment.setup import open_experiment
from unlearn_bench.models.checkpoint import load_state_dict_file, load_weights
from unlearn_bench.utils.errors import build


def main(argv: list[str]) -> None:
    folders, overrides = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    torch.set_num_threads(1)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    exp = open_experiment(cfg, build(cfg.task))
    references = reference_models(exp)  # never trains
    if "original" not in references:
        raise SystemExit("error: the model store holds no original model of this experiment (UNLEARN_BENCH_ROOT?)")
    original, _ = references["original"]
    statistics = dict(original.named_buffers())
    for folder in folders:
        path = f"{folder}/unlearned_model.safetensors"
        model = load_weights(exp.build_model(), load_state_dict_file(path, "model"), path, "model")
        before = metrics_of(exp, model)
        for name, buffer in model.named_buffers():
            buffer.copy_(statistics[name])
        after = metrics_of(exp, model)
        print(f"{folder}: as unlearned Dr {before['retain_test_acc']:.2f} Df {before['forget_test_acc']:.2f}; "
              f"with the original's BatchNorm statistics Dr {after['retain_test_acc']:.2f} "
              f"Df {after['forget_test_acc']:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
