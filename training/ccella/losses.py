"""CCELLA's joint loss: L1 on the predicted noise + a small-weight focal loss on the class logits, the
latter masked out for samples whose report was dropped (a null report carries no class information).

Extensions (not in the paper): the L1 can be weighted per latent voxel (regions.latent_region_weights), so the
few latent voxels of a lesion are not drowned by the rest of the pelvis at a CPU training budget; and
cross-entropies on the connector's finding logits (the lesion side and level named in the report), masked like
the focal loss, make the connector carry where the lesion is (unet.py)."""

from __future__ import annotations

import torch

from training.ccella.regions import weighted_l1

FOCAL_ALPHA = 0.75  # weight of the positive class
FOCAL_GAMMA = 2.0
FOCAL_WEIGHT = 0.1
FINDING_WEIGHT = 0.1


def focal_loss(logits: torch.Tensor, target: torch.Tensor, keep: torch.Tensor, alpha: float = FOCAL_ALPHA,
               gamma: float = FOCAL_GAMMA) -> torch.Tensor:
    """Mean binary focal loss over the samples with ``keep`` True (0 when none is kept).

    ``logits`` (B, 2), ``target`` (B,) in {0, 1}; alpha weights class 1, 1 - alpha class 0.
    """
    log_p = torch.log_softmax(logits, dim=-1).gather(1, target[:, None]).squeeze(1)
    alpha_t = torch.where(target == 1, torch.full_like(log_p, alpha), torch.full_like(log_p, 1 - alpha))
    per_sample = -alpha_t * (1 - log_p.exp()) ** gamma * log_p
    weights = keep.to(per_sample.dtype)
    return (per_sample * weights).sum() / weights.sum().clamp(min=1.0)


def masked_cross_entropy(logits: torch.Tensor, target: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the samples with ``keep`` True (0 when none is kept)."""
    per_sample = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    weights = keep.to(per_sample.dtype)
    return (per_sample * weights).sum() / weights.sum().clamp(min=1.0)


def joint_loss(eps_pred: torch.Tensor, eps: torch.Tensor, logits: torch.Tensor | None, target: torch.Tensor,
               has_report: torch.Tensor, focal_weight: float = FOCAL_WEIGHT, weights: torch.Tensor | None = None,
               findings: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
               finding_weight: float = FINDING_WEIGHT) -> tuple[torch.Tensor, dict[str, float]]:
    """L1(eps_pred, eps) (weighted by ``weights`` when given) + focal_weight * focal(logits) (no focal term when
    ``logits`` is None) + finding_weight * cross-entropy(logits, target) for each of ``findings`` {name:
    (logits, target)}; the classification terms only over the samples that ``has_report``."""
    l1 = (eps_pred - eps).abs().mean() if weights is None else weighted_l1(eps_pred, eps, weights)
    loss, parts = l1, {"l1": float(l1.detach())}
    if logits is not None:
        focal = focal_loss(logits, target, has_report)
        loss, parts["focal"] = loss + focal_weight * focal, float(focal.detach())
    for name, (finding_logits, finding_target) in (findings or {}).items():
        term = masked_cross_entropy(finding_logits, finding_target, has_report)
        loss, parts[name] = loss + finding_weight * term, float(term.detach())
    return loss, parts
