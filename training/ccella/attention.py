"""Multi-head attention with an explicit key mask (written out so that it exports cleanly to ONNX)."""

from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """Queries of width ``dim`` attend to keys/values of width ``context_dim``; ``mask`` (B, K) 1 = keep."""

    def __init__(self, dim: int, context_dim: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(context_dim, 2 * dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads
        q = self.q(x).reshape(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(context).reshape(b, context.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) * (d // h) ** -0.5
        if mask is not None:
            scores = scores + (1.0 - mask[:, None, None, :].to(scores.dtype)) * -1e4
        return self.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))


class SpatialCrossAttention(nn.Module):
    """Cross-attention from every voxel of a feature map to a token context, with a residual."""

    def __init__(self, channels: int, context_dim: int, heads: int = 4) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(8, channels)
        self.attention = Attention(channels, context_dim, heads)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, z, y, x_ = x.shape
        tokens = self.norm(x).reshape(b, c, -1).transpose(1, 2)
        attended = self.attention(tokens, context).transpose(1, 2).reshape(b, c, z, y, x_)
        return x + attended
