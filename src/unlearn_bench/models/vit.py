"""Models from timm: any architecture by name, the paper's ViT-B/16, and a tiny ViT for tests and CPU runs."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import timm
from torch import nn

from unlearn_bench.utils.errors import UnlearnBenchError

PAPER_VIT = "vit_base_patch16_224.orig_in21k_ft_in1k"


def vit(
    num_classes: int,
    arch: str = PAPER_VIT,
    pretrained: bool = True,
    checkpoint: str | None = None,
    in_channels: int = 3,
) -> nn.Module:
    """The paper's ViT-B/16 (or another timm ViT) with a new head."""
    return timm_model(arch, num_classes, pretrained, checkpoint, in_channels)


def timm_model(
    arch: str,
    num_classes: int,
    pretrained: bool = False,
    checkpoint: str | None = None,
    in_channels: int = 3,
) -> nn.Module:
    """Any timm architecture with a new head; weights from the hub, or from a local `checkpoint` file."""
    if arch not in timm.list_models(pretrained=False) and arch.split(".")[0] not in timm.list_models():
        raise UnlearnBenchError(f"model.arch={arch} is not a timm architecture (see timm.list_models()).")
    kwargs = dict(num_classes=num_classes, in_chans=in_channels)
    if checkpoint is not None:
        if not Path(checkpoint).is_file():
            raise UnlearnBenchError(f"model.checkpoint={checkpoint} is not a file.")
        return timm.create_model(arch, pretrained=True, pretrained_cfg_overlay={"file": checkpoint}, **kwargs)
    offline = pretrained and not _hub_reachable()
    try:
        with _hub_offline(offline):
            return timm.create_model(arch, pretrained=pretrained, **kwargs)
    except (OSError, RuntimeError, ValueError) as err:
        if not pretrained:
            raise
        raise UnlearnBenchError(
            f"Could not fetch pretrained weights for {arch} ({type(err).__name__}); offline, pass "
            "model.checkpoint=PATH to a local weights file, or model.pretrained=false to train from "
            "scratch."
        ) from err


def _hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def _hub_offline(offline: bool):
    """Without a network, let the hub client use its local cache only instead of retrying for minutes."""
    import huggingface_hub.constants as hub

    previous = hub.HF_HUB_OFFLINE
    hub.HF_HUB_OFFLINE = previous or offline
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE = previous


def vit_tiny(num_classes: int, img_size: int = 32, in_channels: int = 3) -> nn.Module:
    """A 2-block, 64-wide ViT with 4×4 patches: seconds to train on a CPU."""
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        img_size=img_size, patch_size=4, in_chans=in_channels, num_classes=num_classes,
        embed_dim=64, depth=2, num_heads=2, mlp_ratio=2.0,
    )
