"""A small residual network for CPU runs on 32×32 images (the stand-in for ResNet18 at scale=cpu).

The layout of the fast CIFAR-10 "ResNet-9" (prep conv; three stages of conv → max-pool, the first
and last with a residual pair of convs; global max-pool; linear head), at a quarter of its width
by default: widths w, 2w, 4w, 8w.
"""

from __future__ import annotations

from torch import nn


def conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x):
        return x + self.body(x)


class SmallResNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            conv_bn(in_channels, w),
            conv_bn(w, 2 * w), nn.MaxPool2d(2), Residual(2 * w),
            conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),
            conv_bn(4 * w, 8 * w), nn.MaxPool2d(2), Residual(8 * w),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(8 * w, num_classes)

    def get_classifier(self) -> nn.Linear:
        return self.fc

    def forward(self, x):
        return self.fc(self.features(x))
