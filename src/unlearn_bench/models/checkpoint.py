"""Trained weights from a file (`model.original_ckpt`): any model's state dict under our parameter
names, or a ResNet18 under the official SSD code's
(github.com/if-loops/selective-synaptic-dampening, resnet.py: `conv1.0`/`conv1.1` for the stem,
`conv{2..5}_x.{j}.residual_function.{0,1,3,4}` and `.shortcut.{0,1}` for the blocks, `fc`).
Both are the same network with the same shapes; names are mapped, then every shape is checked."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from unlearn_bench.utils.errors import UnlearnBenchError

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


def load_state_dict_file(path: str | Path, key: str = "model.original_ckpt") -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors file (the suite's unlearned_model.safetensors included), a
    torch-saved dict (.pt/.pth), or a Lightning checkpoint of the suite (.ckpt: its `net.` weights)."""
    if not Path(path).is_file():
        raise UnlearnBenchError(f"{key}={path} is not a file.")
    try:
        if str(path).endswith(".safetensors"):
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same one-sentence answer
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise UnlearnBenchError(f"{key}={path} cannot be read as model weights ({type(err).__name__}: {first.rstrip('.')}); "
                                "it must be a state dict saved as .safetensors, .pt/.pth or a .ckpt of this suite.") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise UnlearnBenchError(f"{key}={path} holds no state dict (a name → tensor mapping).")
    if any(name.startswith("net.") for name in state):  # a Lightning checkpoint of ClassifierModule
        state = {name.removeprefix("net."): t for name, t in state.items() if name.startswith("net.")}
    return state


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint",
                 key: str = "model.original_ckpt") -> nn.Module:
    """Copy `state` into `model`: its names as they are, or a ResNet18's official names mapped to ours.
    A clear error names the first parameter that is missing, left over, or of another shape."""
    expected = model.state_dict()
    if set(state) == set(expected):
        mapped = {name: (name, tensor) for name, tensor in state.items()}
    else:
        mapped = {official_to_ours(name): (name, tensor) for name, tensor in state.items()}
    for ours, want in expected.items():
        if ours not in mapped:
            raise UnlearnBenchError(
                f"{key}={source} lacks the parameter {ours}: it is not a state dict of this model "
                "(check model and dataset.num_classes).")
        name, tensor = mapped[ours]
        if tuple(tensor.shape) != tuple(want.shape):
            raise UnlearnBenchError(
                f"{key}={source}: {name} (our {ours}) has shape {tuple(tensor.shape)}, the model "
                f"expects {tuple(want.shape)}; check dataset.num_classes and model.")
    extra = [name for ours, (name, _) in mapped.items() if ours not in expected]
    if extra:
        raise UnlearnBenchError(f"{key}={source} holds {extra[0]}, which this model lacks.")
    model.load_state_dict({ours: tensor for ours, (_, tensor) in mapped.items()})
    return model.eval()


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def original_checkpoint(model_cfg) -> tuple[str, str] | None:
    """(config key, path) of a trained original model to start from: `model.original_ckpt`, or
    `model.checkpoint` where it is not the network's own initialisation (ViT, timm)."""
    if model_cfg.get("original_ckpt"):
        return "model.original_ckpt", str(model_cfg.original_ckpt)
    if model_cfg.get("checkpoint") and "checkpoint" not in model_cfg.net:
        return "model.checkpoint", str(model_cfg.checkpoint)
    return None


def original_from_checkpoint(model: nn.Module, source: tuple[str, str]) -> tuple[nn.Module, dict]:
    """The original model read from a file (not trained here) and its record for results.json."""
    key, path = source
    model = load_weights(model, load_state_dict_file(path, key), path, key)
    return model, {"key": f"checkpoint-{file_digest(path)}", "cache_hit": True, "train_s": None,
                   "checkpoint": path}
