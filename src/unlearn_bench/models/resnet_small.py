"""A small residual network for CPU runs on 32×32 images (the stand-in for ResNet18 at scale=cpu).

The layout of the fast CIFAR-10 "ResNet-9" (prep conv; three stages of conv → max-pool, the first
and last with a residual pair of convs; global max-pool; linear head), at a quarter of its width
by default: widths w, 2w, 4w, 8w.

stem "conv": the prep conv (3 → w) and the first stage's conv (w → 2w), both trained. stem "whiten":
the fast CIFAR recipes' patch whitening in their place: a fixed 2×2 convolution whose filters are the
eigenvectors of the covariance of 2×2 training patches scaled by 1/√(eigenvalue + ε), with their
negatives (24 channels for RGB), a trained bias and ReLU, then the first stage's conv (24 → 2w).
The filters are a buffer set from training images by `init_from_data` before training (the methods
never change them); a fresh network's are the identity patch filters.

head_scale multiplies the logits (the fast recipes' output scaling, < 1: a softer softmax early in
training); 1 is the plain network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STEMS = ("conv", "whiten")


def conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x):
        return x + self.body(x)


class PatchWhitening(nn.Module):
    """A fixed k×k convolution that whitens image patches (filters from `init_from_data`), ± each filter."""

    def __init__(self, in_channels: int, kernel: int = 2, eps: float = 5e-4):
        super().__init__()
        self.kernel, self.eps = kernel, eps
        patch = in_channels * kernel * kernel
        identity = torch.eye(patch).reshape(patch, in_channels, kernel, kernel)
        self.register_buffer("weight", torch.cat([identity, -identity]))
        self.bias = nn.Parameter(torch.zeros(2 * patch))

    @property
    def out_channels(self) -> int:
        return self.weight.shape[0]

    @torch.no_grad()
    def init_from_data(self, images: torch.Tensor) -> None:
        """Set the filters from `images` (N×C×H×W, normalised as the network sees them)."""
        k = self.kernel
        patches = F.unfold(images.float(), k).transpose(1, 2).reshape(-1, self.weight.shape[1] * k * k)
        patches = patches - patches.mean(0)
        covariance = patches.T @ patches / max(len(patches) - 1, 1)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance.double())
        filters = (eigenvectors / torch.sqrt(eigenvalues.clamp_min(0) + self.eps)).T.float()
        filters = filters.reshape(-1, self.weight.shape[1], k, k)
        self.weight.copy_(torch.cat([filters, -filters]).to(self.weight.device))

    def forward(self, x):
        return F.relu(F.conv2d(x, self.weight.to(x.dtype), self.bias.to(x.dtype)))


class SmallResNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16, stem: str = "conv",
                 head_scale: float = 1.0):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"model.net.stem={stem!r} is unknown; use one of {', '.join(STEMS)}.")
        w = width
        if stem == "whiten":
            whitening = PatchWhitening(in_channels)
            head = [whitening, conv_bn(whitening.out_channels, 2 * w)]
        else:
            head = [conv_bn(in_channels, w), conv_bn(w, 2 * w)]
        self.features = nn.Sequential(
            *head, nn.MaxPool2d(2), Residual(2 * w),
            conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),
            conv_bn(4 * w, 8 * w), nn.MaxPool2d(2), Residual(8 * w),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(8 * w, num_classes)
        self.head_scale = float(head_scale)

    def init_from_data(self, images: torch.Tensor) -> None:
        """Set what the network derives from its training images before training (the whitening)."""
        if isinstance(self.features[0], PatchWhitening):
            self.features[0].init_from_data(images)

    def get_classifier(self) -> nn.Linear:
        return self.fc

    def forward(self, x):
        logits = self.fc(self.features(x))
        return logits if self.head_scale == 1.0 else logits * self.head_scale
