"""The KL autoencoder: (1, 32, 64, 64) T2 volumes <-> (4, 8, 16, 16) latents (4x on every axis).

Trained first (L1 reconstruction + a small KL term), then frozen; latents are pre-encoded once (posterior
means) and multiplied by ``scale`` = 1 / std so the diffusion model sees unit-variance latents.
"""

from __future__ import annotations

import torch
from torch import nn

from training.ccella.blocks import ResBlock3d, Upsample3d, downsample, norm
from training.ccella.config import LATENT_CHANNELS


def space_to_depth(x: torch.Tensor) -> torch.Tensor:
    """(B, C, 2Z, 2Y, 2X) -> (B, 8C, Z, Y, X): full-resolution detail kept without full-resolution convs."""
    b, c, z, y, x_ = x.shape
    x = x.reshape(b, c, z // 2, 2, y // 2, 2, x_ // 2, 2).permute(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, c * 8, z // 2, y // 2, x_ // 2)


def depth_to_space(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`space_to_depth`."""
    b, c8, z, y, x_ = x.shape
    x = x.reshape(b, c8 // 8, 2, 2, 2, z, y, x_).permute(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, c8 // 8, z * 2, y * 2, x_ * 2)


class Encoder(nn.Module):
    def __init__(self, width: int = 48) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv3d(8, 16, 3, padding=1), nn.SiLU(), downsample(16, width), ResBlock3d(width, width),
            ResBlock3d(width, width), norm(width), nn.SiLU(), nn.Conv3d(width, 2 * LATENT_CHANNELS, 1),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.layers(space_to_depth(x)).chunk(2, dim=1)
        return mean, logvar.clamp(-20.0, 10.0)


class Decoder(nn.Module):
    def __init__(self, width: int = 48) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv3d(LATENT_CHANNELS, width, 3, padding=1), ResBlock3d(width, width), ResBlock3d(width, width),
            Upsample3d(width, 16), nn.SiLU(), nn.Conv3d(16, 8, 3, padding=1),
        )
        self.smooth = nn.Conv3d(1, 1, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        coarse = depth_to_space(self.layers(z))
        return coarse + self.smooth(coarse)


class KLAutoencoder(nn.Module):
    """Encoder + decoder; ``scale`` (a buffer saved in the checkpoint) maps latents to unit variance."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()
        self.register_buffer("scale", torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, logvar = self.encoder(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        return self.decoder(z), mean, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled posterior means (the diffusion model's data)."""
        return self.encoder(x)[0] * self.scale

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Volumes from scaled latents."""
        return self.decoder(latent / self.scale)


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)), averaged over latent elements."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
