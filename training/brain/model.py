"""A small 3D U-Net (BatchNorm, ~0.37 M parameters) predicting the nested BraTS regions WT, TC, ET.

Input (B, 4, Z, Y, X) z-scored sequences in ``plugins.brain_tumor_mri.preprocessing.SEQUENCES`` order, spatial sizes
multiples of 8; output (B, 3, Z, Y, X) region logits (sigmoid: whole tumour, tumour core, enhancing).
BatchNorm in eval mode uses running statistics, so predictions do not depend on the tile size, and the
statistics can be re-estimated on a new site without labels (AdaBN, ``training.brain.adapt``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

REGIONS = ("WT", "TC", "ET")


@dataclass(frozen=True)
class NetConfig:
    """Architecture: input channels, channels per level (top to bottom), output regions."""

    in_channels: int = 4
    widths: tuple[int, ...] = (8, 16, 32, 64)
    out_channels: int = len(REGIONS)

    def to_dict(self) -> dict:
        return asdict(self)


class ConvBlock(nn.Sequential):
    """Two 3x3x3 convolutions, each followed by BatchNorm and LeakyReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.LeakyReLU(0.01, inplace=True),
            nn.Conv3d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.LeakyReLU(0.01, inplace=True),
        )


class UNet3D(nn.Module):
    """Encoder (strided max-pool) / decoder (trilinear upsampling + skip concatenation) U-Net."""

    def __init__(self, config: NetConfig = NetConfig()) -> None:
        super().__init__()
        self.config = config
        widths = config.widths
        self.down = nn.ModuleList()
        cin = config.in_channels
        for width in widths:
            self.down.append(ConvBlock(cin, width))
            cin = width
        levels = reversed(range(len(widths) - 1))
        self.up = nn.ModuleList(ConvBlock(widths[i + 1] + widths[i], widths[i]) for i in levels)
        self.head = nn.Conv3d(widths[0], config.out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = F.max_pool3d(x, 2)
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, scale_factor=2, mode="trilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)


def parameter_count(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
