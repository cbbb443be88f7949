"""Every bad input is refused before any work, with one sentence naming the key to change."""

from __future__ import annotations

import pytest

from cli_helpers import finish, start
from unlearn_bench.experiment.runner import run
from unlearn_bench.utils.errors import UnlearnBenchError

BAD_INPUTS = [
    (["seed=abc"], "seed=abc is invalid: it must be an integer ≥ 0 (e.g. set seed=0)."),
    (["seed=-1"], "seed=-1 is invalid: it must be an integer ≥ 0 (e.g. set seed=0)."),
    (["seed=1.5"], "seed=1.5 is invalid: it must be an integer ≥ 0 (e.g. set seed=0)."),
    (["task=random", "task.n_forget=2.5"], "task.n_forget=2.5 is invalid: it must be an integer ≥ 1"),
    (["task=random", "task.n_forget=abc"], "task.n_forget=abc is invalid: it must be an integer ≥ 1"),
    (["task=random", "task.n_forget=null"], "task.n_forget=None is invalid: it must be an integer ≥ 1"),
    (["dataset.train_subset=1.5"], "dataset.train_subset=1.5 is invalid: it must be null (all samples), a "
                                   "count ≥ 1 or a fraction in (0, 1] (e.g. set dataset.train_subset=null)."),
    (["dataset.test_subset=0"], "dataset.test_subset=0 is invalid"),
    (["dataset.val_fraction=1"], "dataset.val_fraction=1 is invalid: it must be a fraction in (0, 1)"),
    (["eval_batch_size=0"], "eval_batch_size=0 is invalid: it must be an integer ≥ 1 (e.g. set eval_batch_size=256)."),
    (["method.lambda_=nan"], "method.lambda_=nan is invalid: it must be a finite number"),
    (["method.lambda_=inf"], "method.lambda_=inf is invalid: it must be a finite number"),
    (["method.alpha=nan"], "method.alpha=nan is invalid: it must be a finite number"),
    (["method.alpha=inf"], "method.alpha=inf is invalid: it must be a finite number"),
    (["method.alpha=0"], "method.alpha=0 is invalid: it must be a number > 0 (e.g. set method.alpha=1.0)."),
    (["method.batch_size=0"], "method.batch_size=0 is invalid: it must be an integer ≥ 1 (e.g. set method.batch_size=64)."),
    (["method=finetune", "method.lr=nan"], "method.lr=nan is invalid: it must be a finite number"),
    (["method=bad_teacher", "method.retain_fraction=2"], "method.retain_fraction=2 is invalid"),
    (["training.epochs=-1"], "training.epochs=-1 is invalid: it must be an integer ≥ 1"),
    (["training.epochs=0"], "training.epochs=0 is invalid: it must be an integer ≥ 1 (e.g. set training.epochs=15)."),
    (["training.milestones=[abc]"], "training.milestones=['abc'] is invalid: it must be a list of epochs (integers ≥ 1)"),
    (["task.requests=0"], "task.requests=0 is invalid: it must be an integer ≥ 1 (e.g. set task.requests=1)."),
    (["task.requests=-1"], "task.requests=-1 is invalid: it must be an integer ≥ 1"),
    (["task.requests=abc"], "task.requests=abc is invalid: it must be an integer ≥ 1"),
    (["dataset.std=[0]"], "dataset.std=[0] is invalid: it must be a list of numbers > 0 (the divisor of each channel)"),
    (["dataset.mean=[0.1,0.2]"], "dataset.mean=[0.1, 0.2] is invalid: it must be one number per channel (1 for digits)"),
    (["trainer.devices=0"], "trainer.devices=0 is invalid: it must be a count ≥ 1, -1 (all), auto, or a list"),
    (["trainer.precision=bogus"], "trainer.precision='bogus' is not supported; use one of 32-true, bf16-mixed, 16-mixed."),
    (["method=custom", "method._target_=collections.OrderedDict"],
     "method._target_=collections.OrderedDict builds a OrderedDict, not an unlearning method"),
    (["method=custom", "method._target_=nosuch.module.Method"],
     "method._target_=nosuch.module.Method cannot be built (Error locating target 'nosuch.module.Method')"),
    (["training.batch_size=0"], "training.batch_size=0 is invalid: it must be an integer ≥ 1"),
    (["dataset.num_classes=12"], "dataset.num_classes=12 but digits has 10 classes (set dataset.num_classes=10)."),
    (["dataset.train_subset=5000"], "dataset.train_subset=5000 asks for more samples than the 1437 of digits's "
                                    "train split (set dataset.train_subset=null for all, or at most 1437)."),
]


@pytest.mark.parametrize("overrides,sentence", BAD_INPUTS, ids=[" ".join(o) for o, _ in BAD_INPUTS])
def test_each_bad_input_is_refused_with_a_sentence_naming_its_key(make_cfg, overrides, sentence):
    with pytest.raises(UnlearnBenchError) as refused:
        run(make_cfg(*overrides))
    assert str(refused.value).startswith(sentence)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("override,sentence", [
    ("training.milestones=[abc]", "error: training.milestones=['abc'] is invalid"),
    ("trainer.precision=bogus", "error: trainer.precision='bogus' is not supported"),
    ("method=nosuch", "error: method=nosuch is not a choice of method: use one of amnesiac, assd, "),
    ("protocol=nosuch", "error: protocol=nosuch is not a choice of protocol: use one of official, ours."),
    ("seed=abc", "error: seed=abc is invalid"),
    ("method.lambda_=nan", "error: method.lambda_=nan is invalid"),
    ("dataset.num_classes=12", "error: dataset.num_classes=12 but digits has 10 classes (set dataset.num_classes=10)."),
])
def test_a_bad_input_exits_2_with_one_line_and_leaves_no_run_folder(tmp_path, override, sentence):
    run_dir = tmp_path / "outputs" / "run"
    code, out, err = finish(start(tmp_path, override, f"hydra.run.dir={run_dir}"))
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(sentence) and "Traceback" not in err
    assert not run_dir.exists() and not (tmp_path / ".cache").exists()


def test_a_mandatory_value_left_unset_is_named(make_cfg):
    with pytest.raises(UnlearnBenchError, match=r"^method._target_ is not set \(set method._target_=\.\.\."):
        run(make_cfg("method=custom"))
