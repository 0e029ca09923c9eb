"""Small 3D building blocks shared by the autoencoder, the denoiser U-Net and the evaluator network."""

from __future__ import annotations

import math

import torch
from torch import nn


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups."""
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResBlock3d(nn.Module):
    """GroupNorm-SiLU-Conv twice with a residual; optionally adds a projected conditioning embedding."""

    def __init__(self, channels_in: int, channels_out: int, embedding_dim: int = 0) -> None:
        super().__init__()
        self.norm1, self.conv1 = norm(channels_in), nn.Conv3d(channels_in, channels_out, 3, padding=1)
        self.norm2, self.conv2 = norm(channels_out), nn.Conv3d(channels_out, channels_out, 3, padding=1)
        self.embed = nn.Linear(embedding_dim, channels_out) if embedding_dim else None
        self.skip = nn.Conv3d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        if self.embed is not None:
            h = h + self.embed(nn.functional.silu(embedding))[:, :, None, None, None]
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return self.skip(x) + h


class Upsample3d(nn.Module):
    """Nearest-neighbour x2 then a 3x3x3 convolution."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels_in, channels_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))


def downsample(channels_in: int, channels_out: int) -> nn.Conv3d:
    """Strided 3x3x3 convolution halving every axis."""
    return nn.Conv3d(channels_in, channels_out, 3, stride=2, padding=1)
