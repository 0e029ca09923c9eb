"""Confidence calibration: temperature scaling, confidence tiers, temperature fitting and ECE.

Binary models give one logit per case (shape ``(n,)``, probability = sigmoid); multi-class models give
``(n, k)`` logits (probability = softmax). Tiers follow the product spec: calibrated probability
> ``high`` (0.90) is "high", ``medium`` (0.70) .. ``high`` is "medium", below ``medium`` is "needs review".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.ai.schema_check import FieldError

Tier = Literal["high", "medium", "needs_review"]
TIERS: tuple[Tier, ...] = ("high", "medium", "needs_review")
TIER_NAMES: dict[Tier, str] = {"high": "High", "medium": "Medium", "needs_review": "Needs review"}


@dataclass(frozen=True)
class Calibration:
    """A plugin's calibration (manifest ``[calibration]``): logit temperature and the tier thresholds."""

    temperature: float = 1.0
    high: float = 0.90
    medium: float = 0.70

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise FieldError("temperature", f"must be a positive number, got {self.temperature}")
        if not 0.0 < self.medium < self.high < 1.0:
            raise FieldError("high", f"thresholds need 0 < medium < high < 1, got medium={self.medium}, "
                                     f"high={self.high}")

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities: sigmoid of ``(n,)`` logits, softmax over the last axis of ``(n, k)``."""
        return probabilities(logits, self.temperature)

    def tier(self, probability: float) -> Tier:
        """The confidence tier of one calibrated probability."""
        if probability > self.high:
            return "high"
        if probability >= self.medium:
            return "medium"
        return "needs_review"


def probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Sigmoid (1-D logits) or softmax over the last axis (2-D logits) of ``logits / temperature``."""
    from scipy.special import expit, softmax  # imported on first use: keeps the viewer's start-up light

    scaled = np.asarray(logits, dtype=np.float64) / temperature
    return expit(scaled) if scaled.ndim == 1 else softmax(scaled, axis=-1)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean NLL of integer ``labels`` under temperature-scaled logits (binary or multi-class)."""
    from scipy.special import log_expit, log_softmax

    scaled = np.asarray(logits, dtype=np.float64) / temperature
    labels = np.asarray(labels)
    if scaled.ndim == 1:
        positive = labels.astype(bool)
        return float(-np.mean(np.where(positive, log_expit(scaled), log_expit(-scaled))))
    log_p = log_softmax(scaled, axis=-1)
    return float(-np.mean(log_p[np.arange(len(labels)), labels.astype(int)]))


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)
) -> float:
    """The temperature minimising the NLL of ``labels`` on held-out ``logits`` (Guo et al. 2017)."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if len(logits) != len(labels) or len(labels) == 0:
        raise ValueError(f"need as many labels as logits (got {len(labels)} and {len(logits)})")
    from scipy.optimize import minimize_scalar  # only fitting needs it; keeps start-up light

    solution = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, math.exp(log_t)),
        bounds=(math.log(bounds[0]), math.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(math.exp(solution.x))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: sum over equal-width confidence bins of |bin| / n * |accuracy - mean confidence|.

    ``probs`` is ``(n,)`` positive-class probabilities (read as two classes) or ``(n, k)`` probabilities;
    a bin ``i`` holds confidences in ``(i / n_bins, (i + 1) / n_bins]``.
    """
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels).astype(int)
    if probs.ndim == 1:
        probs = np.stack([1.0 - probs, probs], axis=1)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        members = bins == b
        ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)
