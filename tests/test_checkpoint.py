"""model.checkpoint= loads a trained ResNet18 with the official code's parameter names (or ours)."""

from __future__ import annotations

import re

import pytest
import torch

from unlearn_bench.experiment.runner import run
from unlearn_bench.models.checkpoint import load_weights, official_to_ours
from unlearn_bench.models.resnet import resnet18
from unlearn_bench.utils.errors import UnlearnBenchError

RESIDUAL = {"conv1": "residual_function.0", "bn1": "residual_function.1", "conv2": "residual_function.3",
            "bn2": "residual_function.4"}


def to_official(name: str) -> str:
    """The official resnet.py's name of one of our parameters, written out independently."""
    stem = re.fullmatch(r"(conv1|bn1)\.(.+)", name)
    if stem:
        return f"conv1.{0 if stem[1] == 'conv1' else 1}.{stem[2]}"
    block = re.fullmatch(r"layers\.(\d)\.(conv1|bn1|conv2|bn2|shortcut\.\d)\.(.+)", name)
    if block:
        layer = int(block[1])
        part = RESIDUAL.get(block[2], block[2])
        return f"conv{layer // 2 + 2}_x.{layer % 2}.{part}.{block[3]}"
    return name


def official_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {to_official(k): v.clone() for k, v in model.state_dict().items()}


def trained_looking(width: int = 8, in_channels: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    model = resnet18(num_classes=10, width=width, in_channels=in_channels)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so a mix-up would show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    return model.eval()


def test_official_names_map_to_ours():
    assert official_to_ours("conv1.0.weight") == "conv1.weight"
    assert official_to_ours("conv1.1.running_var") == "bn1.running_var"
    assert official_to_ours("conv2_x.1.residual_function.3.weight") == "layers.1.conv2.weight"
    assert official_to_ours("conv3_x.0.shortcut.1.bias") == "layers.2.shortcut.1.bias"
    assert official_to_ours("conv5_x.1.residual_function.4.num_batches_tracked") == "layers.7.bn2.num_batches_tracked"
    assert official_to_ours("module.fc.weight") == "fc.weight"


def test_renamed_state_dict_loads_and_gives_identical_outputs():
    source = trained_looking()
    state = official_state(source)
    assert "conv2_x.0.residual_function.0.weight" in state and "layers.0.conv1.weight" not in state
    loaded = load_weights(resnet18(num_classes=10, width=8), state)
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), source(x))
    assert not loaded.training


def test_first_shape_mismatch_is_named():
    state = official_state(trained_looking())
    state["conv3_x.0.residual_function.1.weight"] = torch.ones(3)
    with pytest.raises(UnlearnBenchError, match=r"conv3_x\.0\.residual_function\.1\.weight \(our layers\.2\.bn1\.weight\) "
                                                r"has shape \(3,\), the model expects \(16,\)"):
        load_weights(resnet18(num_classes=10, width=8), state)


def test_missing_and_extra_parameters_are_named():
    state = official_state(trained_looking())
    del state["fc.bias"]
    with pytest.raises(UnlearnBenchError, match="lacks the parameter fc.bias"):
        load_weights(resnet18(num_classes=10, width=8), state)
    state = official_state(trained_looking())
    state["conv6_x.0.weight"] = torch.ones(1)
    with pytest.raises(UnlearnBenchError, match="holds conv6_x.0.weight"):
        load_weights(resnet18(num_classes=10, width=8), state)


def test_checkpoint_is_the_original_model_in_a_run(make_cfg, tmp_path):
    source = trained_looking(in_channels=1)  # digits
    path = tmp_path / "official_resnet18.pth"
    torch.save(official_state(source), path)
    record = run(make_cfg("model=resnet18", "+model.net.width=8", f"model.checkpoint={path}", "method=baseline",
                          "dataset.train_subset=300", "dataset.test_subset=100", "training.epochs=1",
                          "training.milestones=[]"))
    assert record["models"]["original"]["checkpoint"] == str(path)
    assert record["models"]["original"]["key"].startswith("checkpoint-")
    assert record["metrics"]["unlearned"] == record["metrics"]["original"]
