"""A run saves its unlearned model (opt-out); evaluate-only scores a saved model exactly as the run did;
model.original_ckpt starts from a user's own trained model, and a file of another shape is refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from cli_helpers import REPO, env, finish, start
from conftest import CONF, FAST
from unlearn_bench.cache.tensor_file import decode
from unlearn_bench.cli.evaluate_args import with_run_dir
from unlearn_bench.experiment.evaluate_only import evaluate_saved
from unlearn_bench.experiment.runner import run
from unlearn_bench.experiment.saved_model import UNLEARNED_MODEL, UNLEARNED_MODEL_INFO
from unlearn_bench.models.checkpoint import load_state_dict_file, load_weights
from unlearn_bench.models.cnn import SmallCNN
from unlearn_bench.utils.errors import UnlearnBenchError

TINY = ("dataset.train_subset=300", "dataset.test_subset=100", "training.epochs=2", "training.milestones=[]")


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """One SSD run on tiny digits, its record and its folders."""
    root = tmp_path_factory.mktemp("saved")
    GlobalHydra.instance().clear()
    overrides = [f"paths.root_dir={root}", *FAST, *TINY]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*overrides, f"paths.output_dir={root}/run"])
    GlobalHydra.instance().clear()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        record = run(cfg)
    finally:
        torch.set_num_threads(threads)
    return record, root, overrides


def test_the_unlearned_model_is_saved_and_reloads(saved_run):
    record, root, _ = saved_run
    assert record["artifacts"] == {"unlearned_model": UNLEARNED_MODEL, "unlearned_model_info": UNLEARNED_MODEL_INFO}
    assert json.loads((root / "run" / "results.json").read_text())["artifacts"] == record["artifacts"]
    card = json.loads((root / "run" / UNLEARNED_MODEL_INFO).read_text())
    assert {k: card[k] for k in ("method", "dataset", "model", "task", "forget", "seed", "num_classes")} == {
        "method": "ssd", "dataset": "digits", "model": "cnn", "task": "class", "forget": "0", "seed": 0,
        "num_classes": 10}
    tensors, meta = decode((root / "run" / UNLEARNED_MODEL).read_bytes())
    assert meta == card
    net = load_weights(SmallCNN(1, 10, 32), load_state_dict_file(root / "run" / UNLEARNED_MODEL))
    assert all(torch.equal(net.state_dict()[k], tensors[k]) for k in tensors)


def test_saving_the_unlearned_model_can_be_turned_off(make_cfg, tmp_path, one_thread):
    record = run(make_cfg("save.unlearned_model=false", "method=baseline", *TINY))
    assert record["artifacts"] == {}
    assert not (tmp_path / "out" / UNLEARNED_MODEL).exists() and (tmp_path / "out" / "results.json").exists()


def test_evaluate_only_reproduces_the_metrics_of_the_run(saved_run):
    record, root, overrides = saved_run
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*overrides, f"paths.output_dir={root}/eval",
                                                       f"+model_file={root}/run/{UNLEARNED_MODEL}"])
    GlobalHydra.instance().clear()
    evaluated = evaluate_saved(cfg)
    assert evaluated["mode"] == "evaluate" and evaluated["method"] == "ssd"
    assert evaluated["metrics"] == record["metrics"]  # unlearned, and the stored original and gold
    assert evaluated["gap_to_gold"] == record["gap_to_gold"]
    assert evaluated["distance_to_gold"] == record["distance_to_gold"]
    assert json.loads((root / "eval" / "results.json").read_text())["model_file"] == f"{root}/run/{UNLEARNED_MODEL}"


def test_evaluate_on_the_command_line(saved_run):
    record, root, overrides = saved_run
    result = subprocess.run(
        [sys.executable, "-m", "unlearn_bench.evaluate", *overrides, f"hydra.run.dir={root}/cli_eval",
         f"model_file={root}/run/{UNLEARNED_MODEL}"],
        cwd=REPO, env=env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "gap to gold" in result.stdout
    assert json.loads((root / "cli_eval" / "results.json").read_text())["metrics"] == record["metrics"]
    missing = subprocess.run([sys.executable, "-m", "unlearn_bench.evaluate", *overrides,
                              f"hydra.run.dir={root}/cli_missing"],
                             cwd=REPO, env=env(), capture_output=True, text=True, timeout=600)
    assert missing.returncode == 2 and "error: model_file is not set" in missing.stderr


def _evaluate(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unlearn_bench.evaluate", *args], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=600)


def _run_folder(tmp_path, overrides: list[str]):
    """A saved run folder as Hydra writes it: .hydra/overrides.yaml and the unlearned model."""
    (tmp_path / ".hydra").mkdir(parents=True)
    (tmp_path / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (tmp_path / UNLEARNED_MODEL).write_bytes(b"")
    return tmp_path


def test_run_dir_stands_for_the_runs_overrides_and_model_and_the_command_line_wins(tmp_path):
    run = _run_folder(tmp_path, ["dataset=digits", "method=ssd", "seed=1", "+confirm=true"])
    assert with_run_dir(["--cfg", "job", f"run_dir={run}", "seed=2", "~confirm"]) == [
        "--cfg", "job", "dataset=digits", "method=ssd", "hydra.mode=RUN", f"model_file={run / UNLEARNED_MODEL}",
        "seed=2", "~confirm"]
    assert with_run_dir([f"run_dir={run}", "model_file=other.pt"])[-1] == "model_file=other.pt"
    assert with_run_dir(["seed=3"]) == ["seed=3"]


@pytest.mark.parametrize("damage, message", [
    (lambda run: (run / ".hydra" / "overrides.yaml").unlink(), "has no .hydra/overrides.yaml: pass the folder of one run"),
    (lambda run: (run / UNLEARNED_MODEL).unlink(), f"holds no {UNLEARNED_MODEL} .*pass model_file=PATH instead"),
], ids=["no overrides", "no model"])
def test_a_run_dir_without_overrides_or_model_is_one_sentence(tmp_path, damage, message):
    run = _run_folder(tmp_path / "run", ["method=ssd"])
    damage(run)
    with pytest.raises(UnlearnBenchError, match=message):
        with_run_dir([f"run_dir={run}"])
    result = _evaluate(f"run_dir={run}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: run_dir={run} ")


def test_evaluate_with_run_dir_alone_reproduces_the_runs_accuracies(tmp_path):
    """A run through the command line, then evaluate-only given nothing but its folder."""
    code, _, err = finish(start(tmp_path, "method=ssd", *TINY))
    assert code == 0, err
    [run_results] = (tmp_path / "outputs").rglob("results.json")
    result = _evaluate(f"run_dir={run_results.parent}", "eval_batch_size=64", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ran = json.loads(run_results.read_text())
    [evaluated] = [json.loads(p.read_text()) for p in (tmp_path / "outputs").rglob("results.json") if p != run_results]
    assert evaluated["mode"] == "evaluate" and evaluated["method"] == "ssd"
    assert evaluated["model_file"] == str(run_results.parent / UNLEARNED_MODEL)
    assert evaluated["config"]["eval_batch_size"] == 64  # a key given beside run_dir
    for role in ("unlearned", "original", "gold"):
        assert evaluated["paper_columns"][role] == ran["paper_columns"][role]
        assert evaluated["metrics"][role] == ran["metrics"][role]


def test_original_ckpt_starts_from_a_users_model(saved_run, make_cfg, one_thread):
    record, root, _ = saved_run
    path = root / "run" / UNLEARNED_MODEL  # any trained model of this architecture will do
    again = run(make_cfg(f"model.original_ckpt={path}", "method=baseline", *TINY))
    assert again["models"]["original"]["checkpoint"] == str(path)
    assert again["metrics"]["original"] == record["metrics"]["unlearned"]


def test_original_ckpt_of_another_shape_is_refused(make_cfg, tmp_path):
    path = tmp_path / "five_classes.pt"
    torch.save(SmallCNN(1, 5, 32).state_dict(), path)
    with pytest.raises(UnlearnBenchError, match=rf"model.original_ckpt={path}: .* has shape \(5, .*\), the model "
                                                r"expects \(10, .*\); check dataset.num_classes and model"):
        run(make_cfg(f"model.original_ckpt={path}", "method=baseline", *TINY))
    with pytest.raises(UnlearnBenchError, match="model.original_ckpt=.*nope.pt is not a file"):
        run(make_cfg(f"model.original_ckpt={tmp_path}/nope.pt", "method=baseline", *TINY))


class _Crafted:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('RAN').write_text('ran')",))


@pytest.mark.parametrize("write", [lambda p: torch.save({"w": _Crafted()}, p), lambda p: p.write_bytes(b"garbage")],
                         ids=["crafted pickle", "garbage"])
def test_an_unreadable_original_ckpt_is_refused_in_one_sentence_without_running_it(make_cfg, tmp_path, monkeypatch,
                                                                                  write):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "weights.pt"
    write(path)
    with pytest.raises(UnlearnBenchError) as refused:
        run(make_cfg(f"model.original_ckpt={path}", "method=baseline", *TINY))
    message = str(refused.value)
    assert message.startswith(f"model.original_ckpt={path} cannot be read as model weights (")
    assert "\n" not in message and message.endswith("a .ckpt of this suite.")
    assert not (tmp_path / "RAN").exists()
