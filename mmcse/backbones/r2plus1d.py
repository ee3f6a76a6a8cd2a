"""Kinetics-400 R(2+1)D-18 with torchvision's exact state_dict layout (``r2plus1d_18``), as a clip
feature extractor.

    net = R2Plus1D18()
    net.load_state_dict(torch.load("r2plus1d_18-91a641e6.pth", weights_only=True))  # torchvision's file
    feats = net.features(clips)    # (N, 3, T, 112, 112) normalised -> (N, 512), the global average pool

Keys: stem.0 (1x7x7 conv to 45 channels), stem.1, stem.3 (3x1x1 conv to 64), stem.4, then
layer{1-4}.{0,1}.conv{1,2}.0.{0,3} (the spatial and temporal halves of each (2+1)D conv, with a BN at .1
between them), conv{1,2}.1 (BN), downsample.{0,1}, and fc (400 classes, kept only so the file loads).
"""

from __future__ import annotations

import torch
from torch import nn

FEATURE_DIM = 512


class Conv2Plus1D(nn.Sequential):
    """A 3x3x3 conv factored into a 1x3x3 spatial conv to ``midplanes`` channels and a 3x1x1 temporal one."""

    def __init__(self, inplanes: int, planes: int, midplanes: int, stride: int = 1):
        super().__init__(
            nn.Conv3d(inplanes, midplanes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
            nn.BatchNorm3d(midplanes),
            nn.ReLU(inplace=True),
            nn.Conv3d(midplanes, planes, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False),
        )


class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        midplanes = (inplanes * planes * 3 * 3 * 3) // (inplanes * 3 * 3 + 3 * planes)
        self.conv1 = nn.Sequential(Conv2Plus1D(inplanes, planes, midplanes, stride), nn.BatchNorm3d(planes),
                                   nn.ReLU(inplace=True))  # fmt: skip
        self.conv2 = nn.Sequential(Conv2Plus1D(planes, planes, midplanes), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + identity)


class R2Plus1D18(nn.Module):
    def __init__(self, layers: tuple[int, ...] = (2, 2, 2, 2), num_classes: int = 400):
        super().__init__()
        self.inplanes = 64
        self.stem = nn.Sequential(
            nn.Conv3d(3, 45, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(45),
            nn.ReLU(inplace=True),
            nn.Conv3d(45, 64, (3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
        )
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(512, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, planes, 1, stride=(stride, stride, stride), bias=False),
                nn.BatchNorm3d(planes),
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) normalised clips -> (N, 512) globally average-pooled last-block features."""
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) -> (N, 400) Kinetics logits (as torchvision's model)."""
        return self.fc(self.features(x))
