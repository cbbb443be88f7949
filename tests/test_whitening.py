"""resnet_small's whitening stem: the filters whiten 2×2 patches, are set only before training from
scratch, are never trained, and travel with the weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from unlearn_bench.data.base import ImageDataset, ImageSplit
from unlearn_bench.data.transforms import TransformSpec
from unlearn_bench.models.resnet_small import PatchWhitening, SmallResNet
from unlearn_bench.training.module import Recipe, fit_classifier


def test_a_fresh_stem_passes_each_patch_pixel_through_with_its_negative():
    stem = PatchWhitening(3)
    x = torch.arange(3 * 2 * 2, dtype=torch.float).reshape(1, 3, 2, 2)
    out = F.conv2d(x, stem.weight)[0, :, 0, 0]
    assert out.tolist() == [*range(12), *(-v for v in range(12))]


def test_the_filters_whiten_the_patches_they_were_set_from():
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.2, 0.0, 1.0]])
    images = torch.einsum("ij,njhw->nihw", mix, torch.randn(400, 3, 8, 8, generator=g)) * 2 + 1
    stem = PatchWhitening(3, eps=0.0)
    stem.init_from_data(images)
    whitened = F.conv2d(images, stem.weight[:12])
    flat = whitened.permute(1, 0, 2, 3).reshape(12, -1)
    covariance = torch.cov(flat)
    assert torch.allclose(covariance, torch.eye(12), atol=1e-4)
    assert torch.equal(stem.weight[12:], -stem.weight[:12])


def test_eps_shrinks_each_direction_by_its_variance_over_variance_plus_eps():
    images = torch.zeros(2, 1, 2, 2)
    images[1] = 2.0  # every patch pixel the same: one direction with variance 2, three with none
    stem = PatchWhitening(1, eps=1.0)
    stem.init_from_data(images)
    variance_kept = F.conv2d(images, stem.weight[:4]).flatten(1).var(0, unbiased=True)
    # patches (0,0,0,0) and (2,2,2,2): variance 8 along (1,1,1,1)/2, kept as 8 / (8 + eps) = 8/9
    assert sorted(variance_kept.tolist()) == pytest.approx([0.0, 0.0, 0.0, 8 / 9])


def test_the_stem_filters_are_a_buffer_not_a_parameter_and_are_saved():
    net = SmallResNet(10, stem="whiten", width=4)
    names = {name for name, _ in net.named_parameters()}
    assert "features.0.weight" not in names and "features.0.bias" in names
    assert "features.0.weight" in net.state_dict()
    net.init_from_data(torch.randn(16, 3, 32, 32))
    copy = SmallResNet(10, stem="whiten", width=4)
    copy.load_state_dict(net.state_dict())
    assert torch.equal(copy.features[0].weight, net.features[0].weight)


def test_an_unknown_stem_is_refused_naming_the_key():
    with pytest.raises(ValueError, match=r"model.net.stem='big'"):
        SmallResNet(10, stem="big")


def tiny_images(n=64):
    g = torch.Generator().manual_seed(1)
    split = ImageSplit(torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                       torch.randint(0, 3, (n,), generator=g))
    spec = TransformSpec((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    return ImageDataset(split, spec=spec, augment=True), ImageDataset(split, spec=spec)


@pytest.mark.parametrize("from_scratch", [True, False])
def test_training_from_scratch_sets_the_filters_and_further_training_keeps_them(from_scratch):
    train, val = tiny_images()
    net = SmallResNet(3, stem="whiten", width=4)
    before = net.features[0].weight.clone()
    recipe = Recipe(torch.optim.SGD, epochs=1, batch_size=32, warmup_epochs=0)
    fit_classifier(net, train, val, recipe, {"accelerator": "cpu", "enable_progress_bar": False}, seed=0,
                   from_scratch=from_scratch)
    changed = not torch.equal(net.features[0].weight, before)
    assert changed == from_scratch
