"""Trained ResNet18 weights from a file: our parameter names, or the official SSD code's
(github.com/if-loops/selective-synaptic-dampening, resnet.py: `conv1.0`/`conv1.1` for the stem,
`conv{2..5}_x.{j}.residual_function.{0,1,3,4}` and `.shortcut.{0,1}` for the blocks, `fc`).
Both are the same network with the same shapes; names are mapped, then every shape is checked."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch
from torch import nn

from unlearn_bench.errors import UnlearnBenchError

STEM = {"conv1.0": "conv1", "conv1.1": "bn1"}
RESIDUAL = {"0": "conv1", "1": "bn1", "3": "conv2", "4": "bn2"}
BLOCK = re.compile(r"conv([2-5])_x\.(\d+)\.(residual_function|shortcut)\.(\d+)\.(.+)")


def official_to_ours(name: str, num_blocks: tuple[int, ...] = (2, 2, 2, 2)) -> str:
    """Our parameter name for an official ResNet18 one (names that are ours already pass unchanged)."""
    name = name.removeprefix("module.")  # saved from nn.DataParallel
    for old, new in STEM.items():
        if name.startswith(old + "."):
            return new + name[len(old):]
    match = BLOCK.fullmatch(name)
    if match is None:
        return name
    stage, block, part, index, leaf = match.groups()
    layer = sum(num_blocks[: int(stage) - 2]) + int(block)
    if part == "shortcut":
        return f"layers.{layer}.shortcut.{index}.{leaf}"
    if index not in RESIDUAL:
        return name
    return f"layers.{layer}.{RESIDUAL[index]}.{leaf}"


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    if not Path(path).is_file():
        raise UnlearnBenchError(f"model.checkpoint={path} is not a file.")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UnlearnBenchError(f"model.checkpoint={path} holds no state dict (a name → tensor mapping).")
    return state


def load_resnet18_weights(model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> nn.Module:
    """Copy `state` (official or our names) into `model`; a clear error names the first parameter
    that is missing, left over, or of another shape."""
    expected = model.state_dict()
    mapped = {official_to_ours(name): (name, tensor) for name, tensor in state.items()}
    for ours, want in expected.items():
        if ours not in mapped:
            raise UnlearnBenchError(
                f"model.checkpoint={source} lacks the parameter {ours} (official name or ours): it is not a "
                "ResNet18 state dict of this model.")
        name, tensor = mapped[ours]
        if tuple(tensor.shape) != tuple(want.shape):
            raise UnlearnBenchError(
                f"model.checkpoint={source}: {name} (our {ours}) has shape {tuple(tensor.shape)}, the model "
                f"expects {tuple(want.shape)}; check dataset.num_classes and model.")
    extra = [name for ours, (name, _) in mapped.items() if ours not in expected]
    if extra:
        raise UnlearnBenchError(f"model.checkpoint={source} holds {extra[0]}, which this ResNet18 lacks.")
    model.load_state_dict({ours: tensor for ours, (_, tensor) in mapped.items()})
    return model.eval()


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def original_from_checkpoint(model: nn.Module, path: str | Path) -> tuple[nn.Module, dict]:
    """The original model read from `path` (not trained here) and its record for results.json."""
    model = load_resnet18_weights(model, load_state_dict_file(path), str(path))
    return model, {"key": f"checkpoint-{file_digest(path)}", "cache_hit": True, "train_s": None,
                   "checkpoint": str(path)}
