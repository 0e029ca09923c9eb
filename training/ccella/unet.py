"""The latent denoiser: a small 3D U-Net over (4, 8, 16, 16) latents, conditioned CCELLA-style.

Every ResBlock receives one embedding = [timestep ; spacing ; class (; side ; level) embeddings]. The
class embedding is a small MLP of a class-probability vector: in CCELLA the softmax of the connector's
fused class logits (predicted from the report, never the ground truth). The connector's output is the
cross-attention context at the two low-resolution levels (4x8x8 and the 2x4x4 middle block); the
full-latent-resolution level has no attention. Variants for the ablations (same network otherwise):
``ccella`` (text + predicted class, side and level), ``text`` (text only), ``class`` (ground-truth class vector only),
``uncond`` (neither).

Preconditioning (as in EDM's skip connection): the network predicts the residual of epsilon over its
linear least-squares estimate from x_t alone, eps = net(...) + sqrt(1 - abar_t) * x_t (exact for unit-variance
latents; abar_t is gathered from the schedule inside the graph, so the ONNX model carries it too). An untrained
or under-trained network then shrinks x_t towards the latent mean instead of amplifying its own errors by
1 / sqrt(abar_t) at the noisy end of DDIM sampling.

Extensions (not in the paper), measured in the model card:

- the lesion's side (none / right / left) and level (none / apex / mid / base) are conditioned like the
  class: in ``ccella`` finding heads of the connector predict them from the report (trained with masked
  cross-entropies next to the focal loss) and each softmax goes through a small MLP into the ResBlock
  embedding. Without the side head the side named in a report never reached the generated volume (0.55 on
  the named side, chance); the level is followed less reliably than the side (model card);
- three fixed coordinate channels (z, y, x in [-1, 1] over the latent grid) are concatenated with the latent at
  the input of every variant: a convolutional U-Net has no other notion of which half of the image is the
  patient's left, which a side-conditioned lesion needs. They are constants of the graph, not inputs.

Extension (the app's "negative"/"positive" override): ``class_weight`` w mixes an explicit class vector into the
one fed to the class MLP, probs = (1 - w) * softmax(logits) + w * class_probs; w = 0 is the prediction, w = 1
replaces it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from plugins.prostate_synthesis.schedule import alphas_cumprod
from plugins.prostate_synthesis.types import LEVEL_NAMES, SIDE_NAMES
from training.ccella.attention import SpatialCrossAttention
from training.ccella.blocks import ResBlock3d, Upsample3d, downsample, norm
from training.ccella.config import LATENT_CHANNELS, LATENT_SHAPE, TEXT_DIM
from training.ccella.connector import SemanticConnector

VARIANTS = ("ccella", "text", "class", "uncond")
CLASS_EMBED = 32
FINDING_EMBED = 32
SPACING_EMBED = 32
FINDINGS = {"side": len(SIDE_NAMES), "level": len(LEVEL_NAMES)}  # what ccella reads about the lesion (classes)
COORDINATE_CHANNELS = 3


def coordinate_grid() -> torch.Tensor:
    """(1, 3, z, y, x) channels holding each latent voxel's z, y, x position scaled to [-1, 1]."""
    axes = [torch.linspace(-1.0, 1.0, n) for n in LATENT_SHAPE[1:]]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"))[None]


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding (B, dim) of integer timesteps (B,)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.to(torch.float32)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Denoiser(nn.Module):
    """(latent, t, text, text_mask, spacing, class_probs, class_weight) -> (epsilon, class logits, side logits,
    level logits)."""

    def __init__(self, variant: str = "ccella", widths: tuple[int, int, int] = (16, 48, 64), time_dim: int = 128,
                 context_dim: int = 128, queries: int = 16, connector_blocks: int = 2) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.variant = variant
        self.uses_text = variant in ("ccella", "text")
        self.uses_class = variant in ("ccella", "class")
        w0, w1, w2 = widths
        self.time_dim = time_dim
        self.register_buffer("alphas_cumprod", torch.from_numpy(alphas_cumprod()).float(), persistent=False)
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        self.spacing_mlp = nn.Sequential(nn.Linear(3, SPACING_EMBED), nn.SiLU(),
                                         nn.Linear(SPACING_EMBED, SPACING_EMBED))
        self.class_mlp = (nn.Sequential(nn.Linear(2, CLASS_EMBED), nn.SiLU(), nn.Linear(CLASS_EMBED, CLASS_EMBED))
                          if self.uses_class else None)
        findings = FINDINGS if variant == "ccella" else {}
        self.finding_mlps = nn.ModuleDict({
            name: nn.Sequential(nn.Linear(n, FINDING_EMBED), nn.SiLU(), nn.Linear(FINDING_EMBED, FINDING_EMBED))
            for name, n in findings.items()})
        self.connector = (SemanticConnector(TEXT_DIM, context_dim, time_dim, queries, connector_blocks,
                                            class_heads=variant == "ccella", findings=findings)
                          if self.uses_text else None)
        emb = (time_dim + SPACING_EMBED + (CLASS_EMBED if self.uses_class else 0)
               + FINDING_EMBED * len(self.finding_mlps))

        def attention(channels: int) -> nn.Module | None:
            return SpatialCrossAttention(channels, context_dim) if self.uses_text else None

        self.register_buffer("coordinates", coordinate_grid(), persistent=False)
        self.conv_in = nn.Conv3d(LATENT_CHANNELS + COORDINATE_CHANNELS, w0, 3, padding=1)
        self.down0, self.pool0 = ResBlock3d(w0, w0, emb), downsample(w0, w1)
        self.down1, self.attn_down1, self.pool1 = ResBlock3d(w1, w1, emb), attention(w1), downsample(w1, w2)
        self.mid1, self.attn_mid, self.mid2 = ResBlock3d(w2, w2, emb), attention(w2), ResBlock3d(w2, w2, emb)
        self.up1, self.res_up1, self.attn_up1 = Upsample3d(w2, w1), ResBlock3d(2 * w1, w1, emb), attention(w1)
        self.up0, self.res_up0 = Upsample3d(w1, w0), ResBlock3d(2 * w0, w0, emb)
        self.out = nn.Sequential(norm(w0), nn.SiLU(), nn.Conv3d(w0, LATENT_CHANNELS, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, latent: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor,
                spacing: torch.Tensor, class_probs: torch.Tensor, class_weight: torch.Tensor
                ) -> tuple[torch.Tensor, ...]:
        """Epsilon, class logits (B, 2), side logits (B, 3) and level logits (B, 4); the logits are zeros in the
        variants without the corresponding head."""
        time = self.time_mlp(timestep_embedding(timestep, self.time_dim))
        parts = [time, self.spacing_mlp(torch.log(spacing))]
        context, logits, findings = (self.connector(text, text_mask, time) if self.connector is not None
                                     else (None, None, {}))
        if self.class_mlp is not None:
            probs = (class_probs if logits is None
                     else (1 - class_weight) * logits.softmax(-1) + class_weight * class_probs)
            parts.append(self.class_mlp(probs))
        for name, mlp in self.finding_mlps.items():
            parts.append(mlp(findings[name].softmax(-1)))
        emb = torch.cat(parts, dim=-1)
        coordinates = self.coordinates.expand(latent.shape[0], -1, -1, -1, -1)
        h0 = self.down0(self.conv_in(torch.cat([latent, coordinates], dim=1)), emb)
        h1 = self._attend(self.attn_down1, self.down1(self.pool0(h0), emb), context)
        h = self.mid2(self._attend(self.attn_mid, self.mid1(self.pool1(h1), emb), context), emb)
        h = self._attend(self.attn_up1, self.res_up1(torch.cat([self.up1(h), h1], dim=1), emb), context)
        h = self.res_up0(torch.cat([self.up0(h), h0], dim=1), emb)
        if logits is None:
            logits = torch.zeros(latent.shape[0], 2, dtype=latent.dtype)
        finding_logits = [findings.get(name, torch.zeros(latent.shape[0], n, dtype=latent.dtype))
                          for name, n in FINDINGS.items()]
        skip = (1.0 - self.alphas_cumprod[timestep]).sqrt().view(-1, 1, 1, 1, 1) * latent
        return self.out(h) + skip, logits, *finding_logits

    @staticmethod
    def _attend(layer: nn.Module | None, h: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        return h if layer is None else layer(h, context)
