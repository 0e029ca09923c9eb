"""Segmentation loss for the nested regions: sigmoid focal loss + soft Dice (per region, over the batch)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Mean binary focal loss (Lin et al. 2017, no alpha) of sigmoid ``logits`` against 0/1 ``targets``."""
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_true = torch.exp(-bce)
    return ((1.0 - p_true) ** gamma * bce).mean()


def soft_dice_loss(logits: torch.Tensor, targets: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - mean over regions of the soft Dice computed over the batch and all voxels of each region."""
    probs = torch.sigmoid(logits)
    dims = (0, *range(2, logits.ndim))
    intersection = (probs * targets).sum(dims)
    total = probs.sum(dims) + targets.sum(dims)
    return 1.0 - ((2.0 * intersection + smooth) / (total + smooth)).mean()


def segmentation_loss(logits: torch.Tensor, targets: torch.Tensor, focal_weight: float = 1.0) -> torch.Tensor:
    """``focal_weight`` * focal + Dice."""
    return focal_weight * focal_loss(logits, targets) + soft_dice_loss(logits, targets)
