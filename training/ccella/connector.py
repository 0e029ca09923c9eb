"""The timestep-aware semantic connector with cascade class heads (CCELLA's adapter).

Learnable queries get a time-aware shift, then pass through Perceiver blocks whose keys/values are the
queries concatenated with the (projected) text tokens. Each block is modulated by the timestep through an
adaptive LayerNorm whose scale/shift/gate projections are zero-initialised, so every block is the identity
at initialisation (as in DiT's adaLN-Zero). A class head after each block gives logits; a linear layer
fuses them into the class logits. The final queries are the U-Net's cross-attention context.

Extension (not in the paper): optional finding heads on the final queries predict what the report says about
its lesion: the side (none / right / left) and the level (none / apex / mid / base). Trained only on the class,
the connector kept the class and dropped the side (its context moved by 0.4-1.9 % between a left and a right
report), so the denoiser could not place the lesion.
"""

from __future__ import annotations

import torch
from torch import nn

from training.ccella.attention import Attention


class AdaLNPerceiverBlock(nn.Module):
    """Queries <- queries + gate * attention(adaLN(queries), [adaLN(queries); text]) (+ gated MLP)."""

    def __init__(self, dim: int, time_dim: int, heads: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attention = Attention(dim, dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.modulation = nn.Linear(time_dim, 6 * dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, queries: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor, time: torch.Tensor
                ) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(nn.functional.silu(time))[:, None].chunk(6, -1)
        h = self.norm1(queries) * (1 + scale1) + shift1
        keys = torch.cat([h, text], dim=1)
        mask = torch.cat([torch.ones_like(h[..., 0]), text_mask.to(h.dtype)], dim=1)
        queries = queries + gate1 * self.attention(h, keys, mask)
        h = self.norm2(queries) * (1 + scale2) + shift2
        return queries + gate2 * self.mlp(h)


class SemanticConnector(nn.Module):
    """Text tokens (B, L, text_dim) + timestep embedding -> context (B, Q, dim), class logits (B, 2) (None
    without class heads) and a dict of finding logits, one (B, n) entry per name of ``findings`` {name: n}."""

    def __init__(self, text_dim: int, dim: int, time_dim: int, queries: int = 16, blocks: int = 2,
                 classes: int = 2, class_heads: bool = True, findings: dict[str, int] | None = None) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(queries, dim) * 0.02)
        self.time_shift = nn.Linear(time_dim, dim)
        self.text_in = nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, dim))
        self.blocks = nn.ModuleList(AdaLNPerceiverBlock(dim, time_dim) for _ in range(blocks))
        self.out_norm = nn.LayerNorm(dim)
        self.heads = nn.ModuleList(nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, classes))
                                   for _ in range(blocks)) if class_heads else None
        self.fuse = nn.Linear(blocks * classes, classes) if class_heads else None
        self.finding_heads = nn.ModuleDict({name: nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, n))
                                            for name, n in (findings or {}).items()})
        if self.fuse is not None:  # start as the average of the heads
            with torch.no_grad():
                self.fuse.weight.copy_(torch.cat([torch.eye(classes)] * blocks, dim=1) / blocks)
                self.fuse.bias.zero_()

    def forward(self, text: torch.Tensor, text_mask: torch.Tensor, time: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        b = text.shape[0]
        queries = self.queries[None].expand(b, -1, -1) + self.time_shift(nn.functional.silu(time))[:, None]
        tokens = self.text_in(text)
        head_logits = []
        for index, block in enumerate(self.blocks):
            queries = block(queries, tokens, text_mask, time)
            if self.heads is not None:
                head_logits.append(self.heads[index](queries.mean(dim=1)))
        logits = self.fuse(torch.cat(head_logits, dim=-1)) if self.fuse is not None else None
        pooled = queries.mean(dim=1)
        findings = {name: head(pooled) for name, head in self.finding_heads.items()}
        return self.out_norm(queries), logits, findings
