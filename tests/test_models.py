"""Every model builds, runs a forward pass and exposes its classifier; ViT fails clearly offline."""

import pytest
import torch

from unlearn_bench.models import vit as vit_module
from unlearn_bench.models.cnn import SmallCNN
from unlearn_bench.models.resnet import resnet18
from unlearn_bench.models.vit import vit, vit_tiny
from unlearn_bench.utils.errors import UnlearnBenchError


@pytest.mark.parametrize("build,shape", [
    (lambda: SmallCNN(in_channels=1, num_classes=10, width=8), (2, 1, 8, 8)),
    (lambda: resnet18(num_classes=20, width=8), (2, 3, 32, 32)),
    (lambda: vit_tiny(num_classes=5), (2, 3, 32, 32)),
])
def test_forward_and_classifier(build, shape):
    model = build().eval()
    logits = model(torch.randn(shape))
    head = model.get_classifier()
    assert logits.shape == (2, head.out_features)


def test_resnet18_has_the_cifar_stem():
    model = resnet18(num_classes=10)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    assert sum(p.numel() for p in model.parameters()) == 11_173_962


def test_vit_offline_names_the_ways_out(monkeypatch):
    monkeypatch.setattr(vit_module, "_hub_reachable", lambda *a, **k: False)

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to the hub")

    monkeypatch.setattr(vit_module.timm, "create_model", offline)
    with pytest.raises(UnlearnBenchError, match=r"model.checkpoint=PATH.*model.pretrained=false"):
        vit(num_classes=10)


def test_vit_missing_checkpoint_file(tmp_path):
    with pytest.raises(UnlearnBenchError, match="is not a file"):
        vit(num_classes=10, checkpoint=str(tmp_path / "missing.safetensors"))
