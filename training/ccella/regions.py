"""Region weights for the training losses, from the phantom's zone / lesion label maps (training only: the
models never see labels). A small dark lesion is about 0.1 % of a volume, so an unweighted loss lets the
autoencoder blur it away and lets the denoiser ignore the class and side that decide where it is."""

from __future__ import annotations

import numpy as np
import torch

from training.ccella.config import LATENT_SHAPE, VOLUME_SHAPE

PROSTATE_WEIGHT = 2.0  # extra weight on gland voxels (label > 0)
LESION_WEIGHT = 30.0  # extra weight on lesion voxels (label 3)
LESION_LABEL = 3
LATENT_STRIDE = VOLUME_SHAPE[0] // LATENT_SHAPE[1]  # the autoencoder's downsampling on every axis


def region_weights(labels: torch.Tensor) -> torch.Tensor:
    """Per-voxel weights 1 / 1 + PROSTATE_WEIGHT / 1 + PROSTATE_WEIGHT + LESION_WEIGHT from label maps."""
    return 1.0 + PROSTATE_WEIGHT * (labels > 0).float() + LESION_WEIGHT * (labels == LESION_LABEL).float()


def latent_region_weights(labels: np.ndarray) -> np.ndarray:
    """Weights (n, 1, z/4, y/4, x/4) float32 on the latent grid: a latent voxel whose 4x4x4 block holds any
    gland (lesion) voxel gets the gland (lesion) weight."""
    n, z, y, x = labels.shape
    s = LATENT_STRIDE
    blocks = labels.reshape(n, z // s, s, y // s, s, x // s, s)
    gland = (blocks > 0).any(axis=(2, 4, 6))
    lesion = (blocks == LESION_LABEL).any(axis=(2, 4, 6))
    weights = 1.0 + PROSTATE_WEIGHT * gland + LESION_WEIGHT * lesion
    return weights[:, None].astype(np.float32)


def weighted_l1(prediction: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Sum of weighted absolute errors over the sum of weights (``weights`` broadcasts over the errors)."""
    weights = weights.expand_as(prediction)
    return (weights * (prediction - target).abs()).sum() / weights.sum()
