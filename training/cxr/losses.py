"""Detector losses: penalty-reduced focal loss on centres, L1 on size/offset at centres, BCE on the image."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_heatmap_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0
                       ) -> torch.Tensor:
    """CenterNet focal loss, normalised by the number of centres (at least 1)."""
    prob = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    positive = target.eq(1.0).float()
    pos_loss = -torch.log(prob) * (1 - prob) ** alpha * positive
    neg_loss = -torch.log(1 - prob) * prob**alpha * (1 - target) ** beta * (1 - positive)
    return (pos_loss.sum() + neg_loss.sum()) / positive.sum().clamp(min=1.0)


def detector_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
                  image_weight: float = 0.5) -> dict[str, torch.Tensor]:
    """The weighted total and its parts."""
    mask = targets["mask"]
    centres = mask.sum().clamp(min=1.0)
    parts = {
        "heatmap": focal_heatmap_loss(outputs["heatmap"], targets["heatmap"]),
        "size": (F.l1_loss(outputs["log_size"], targets["log_size"], reduction="none") * mask).sum() / centres,
        "offset": (F.l1_loss(outputs["offset"], targets["offset"], reduction="none") * mask[:, None]).sum()
        / centres,
        "image": F.binary_cross_entropy_with_logits(outputs["image_logit"], targets["label"]),
    }
    parts["total"] = parts["heatmap"] + parts["size"] + parts["offset"] + image_weight * parts["image"]
    return parts
