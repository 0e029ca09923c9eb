"""Describing a brain-tumour segmentation: region volumes, side and approximate lobe, plain-language text,
and the retrieval embedding — shared by the plugin and by training (reference library, model card).

Side comes from the patient coordinates (LPS: +x is the patient's left) of the tumour centroid against
the centre of the head mask. The lobe is approximate: fractions of the head's anterior-posterior and
inferior-superior extent (front 40 % frontal, back 25 % occipital, in between parietal above mid-height,
temporal below). It is a reading aid, not an atlas label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry, float3

REGION_LABELS = {"NCR": (1,), "ED": (2,), "ET": (3,), "TC": (1, 3), "WT": (1, 2, 3)}
REGION_NAMES = {"WT": "whole tumour", "TC": "tumour core", "ET": "enhancing tumour", "NCR": "necrosis",
                "ED": "oedema"}
MIN_ENHANCING_ML = 0.1


@dataclass(frozen=True)
class Location:
    """Patient side, approximate lobe, and the centroid relative to the head box (each axis -1..1, LPS)."""

    side: str
    lobe: str
    relative: tuple[float, float, float]


def region_volumes_ml(labels: np.ndarray, geometry: Geometry) -> dict[str, float]:
    """Volume in mL of NCR, ED, ET, TC and WT of a BraTS label map."""
    counts = np.bincount(np.asarray(labels).ravel(), minlength=4)
    voxel_ml = float(np.prod(geometry.spacing)) / 1000.0
    return {name: float(sum(counts[v] for v in values)) * voxel_ml for name, values in REGION_LABELS.items()}


def locate(tumour_zyx: np.ndarray, head_zyx: np.ndarray, tumour_grid: Geometry, head_grid: Geometry) -> Location:
    """Side and lobe of the tumour voxels (n, 3) relative to the head voxels (m, 3), each on its grid."""
    centre = tumour_grid.voxel_to_patient(np.asarray(tumour_zyx, dtype=float).mean(axis=0))
    head = head_grid.voxel_to_patient(np.asarray(head_zyx, dtype=float))
    low, high = head.min(axis=0), head.max(axis=0)
    relative = 2.0 * (centre - low) / np.maximum(high - low, 1e-6) - 1.0
    side = "left" if relative[0] > 0 else "right"
    front_back = (relative[1] + 1.0) / 2.0  # 0 anterior .. 1 posterior
    if front_back < 0.40:
        lobe = "frontal"
    elif front_back > 0.75:
        lobe = "occipital"
    else:
        lobe = "parietal" if relative[2] > 0 else "temporal"
    return Location(side, lobe, float3(relative))


def describe(location: Location, volumes_ml: dict[str, float]) -> str:
    """E.g. 'right frontal enhancing tumour with necrosis, 24 mL whole tumour'."""
    kind = "enhancing tumour" if volumes_ml["ET"] >= MIN_ENHANCING_ML else "non-enhancing tumour"
    necrosis = " with necrosis" if volumes_ml["NCR"] >= MIN_ENHANCING_ML else ""
    return f"{location.side} {location.lobe} {kind}{necrosis}, {volumes_ml['WT']:.0f} mL whole tumour"


def tumour_embedding(volumes_ml: dict[str, float], location: Location) -> np.ndarray:
    """Float32 retrieval vector: log volumes, composition ratios and position (laterality unsigned)."""
    wt, tc = volumes_ml["WT"], volumes_ml["TC"]
    features = [
        np.log1p(wt) / 5.0, np.log1p(tc) / 5.0, np.log1p(volumes_ml["ET"]) / 5.0, np.log1p(volumes_ml["NCR"]) / 5.0,
        tc / wt if wt > 0 else 0.0, volumes_ml["NCR"] / tc if tc > 0 else 0.0,
        abs(location.relative[0]), location.relative[1], location.relative[2], 1.0,
    ]
    return np.asarray(features, dtype=np.float32)


def tumour_components(labels: np.ndarray, spacing_zyx: tuple[float, ...], min_voxels: int = 1,
                      join_mm: float = 5.0) -> list[np.ndarray]:
    """Boolean masks of the tumour's parts, largest first, each with at least ``min_voxels`` voxels.

    Parts at most ``join_mm`` apart (e.g. oedema on both sides of the interhemispheric fissure) count as
    one tumour: components are found on the mask grown by ``join_mm / 2`` and then cut back to the mask.
    """
    mask = np.asarray(labels) > 0
    if not mask.any():
        return []
    margin = [int(np.ceil(join_mm / s)) + 1 for s in spacing_zyx]
    found = np.argwhere(mask)
    low = np.maximum(found.min(axis=0) - margin, 0)
    high = np.minimum(found.max(axis=0) + margin + 1, mask.shape)
    box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
    grown = ndimage.distance_transform_edt(~mask[box], sampling=spacing_zyx) <= join_mm / 2.0
    components, _ = ndimage.label(grown, structure=np.ones((3,) * mask.ndim))
    parts = np.zeros(mask.shape, dtype=components.dtype)
    parts[box] = np.where(mask[box], components, 0)
    sizes = np.bincount(parts.ravel())
    sizes[0] = 0
    order = [int(i) for i in np.argsort(-sizes, kind="stable") if sizes[i] >= max(min_voxels, 1)]
    return [parts == index for index in order]


COMPONENT_FEATURES = ("mean_logit", "confident_fraction", "log_volume_ml")


def component_features(probability_inside: np.ndarray, voxel_ml: float) -> np.ndarray:
    """Features of one predicted tumour (its voxels' calibrated WT probabilities): the logit of their mean,
    the share above 0.9 and the log volume in mL (``COMPONENT_FEATURES``)."""
    values = np.asarray(probability_inside, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("a tumour component needs at least one voxel")
    mean = float(np.clip(values.mean(), 1e-6, 1.0 - 1e-6))
    return np.array([np.log(mean / (1.0 - mean)), float(np.mean(values > 0.9)), np.log(values.size * voxel_ml)])


@dataclass(frozen=True)
class ComponentCalibration:
    """Logistic model of P(a predicted tumour is a true tumour) from its :func:`component_features`, fitted
    on validation phantoms by training/brain/honest.py; manifest ``[preprocessing].component_calibration``.
    It replaces the mean voxel probability inside the mask, which is at least 0.5 by construction."""

    weights: tuple[float, ...]
    intercept: float

    @classmethod
    def from_settings(cls, table: object) -> ComponentCalibration:
        """From the manifest's inline table; a missing or malformed table is a clear error."""
        if not isinstance(table, dict):
            raise ValueError("manifest [preprocessing] needs component_calibration = { features, weights, "
                             "intercept } (fitted by training/brain/honest.py)")
        features, weights = tuple(table.get("features", ())), tuple(float(w) for w in table.get("weights", ()))
        if features != COMPONENT_FEATURES or len(weights) != len(COMPONENT_FEATURES):
            raise ValueError(f"component_calibration: features must be {list(COMPONENT_FEATURES)} with one weight "
                             f"each, got {list(features)} and {len(weights)} weights")
        intercept = float(table.get("intercept", float("nan")))
        if not all(np.isfinite([*weights, intercept])):
            raise ValueError("component_calibration: weights and intercept must be finite numbers")
        return cls(weights, intercept)

    def probability(self, features: np.ndarray) -> float:
        z = self.intercept + float(np.dot(self.weights, np.asarray(features, dtype=np.float64)))
        return float(1.0 / (1.0 + np.exp(-z)))
