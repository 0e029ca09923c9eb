"""Exact calcium scores (Agatston, volume, mass) per artery and in total; the rules are rules.py.

``find_lesions`` lists the per-slice lesions of one boolean region; ``score_lesions`` sums a selection of
them; ``score_arteries`` scores an artery label map (1 LM, 2 LAD, 3 LCX, 4 RCA) and ``score_components``
scores each 3D lesion of a component label image (a 2D lesion never spans two 26-connected components).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry

from .risk import RiskCategory, risk_category
from .rules import ARTERIES, DEFAULT_RULES, WEIGHT_BOUNDS_HU, ScoringRules

_IN_PLANE_8 = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE_8[1] = True  # 8-connectivity inside a slice, none across slices


@dataclass(frozen=True)
class SliceLesions:
    """The per-slice lesions of a region: one entry per 2D 8-connected group of >= threshold voxels.

    ``labels`` numbers them 1..n on the (cropped) grid whose first voxel is ``offset`` (z, y, x).
    """

    labels: np.ndarray
    offset: tuple[int, int, int]
    slice_index: np.ndarray  # (n,) z of each lesion
    pixels: np.ndarray  # (n,) voxel count
    peak_hu: np.ndarray  # (n,)
    hu_sum: np.ndarray  # (n,) sum of HU over the lesion's voxels
    area_mm2: np.ndarray  # (n,)
    weight: np.ndarray  # (n,) density weight 1-4
    counted: np.ndarray  # (n,) bool: area >= the minimum

    def __len__(self) -> int:
        return int(self.pixels.size)


@dataclass(frozen=True)
class CalciumScore:
    """Scores of one region (an artery, a lesion or the total)."""

    agatston: float  # normalised to the reference slice spacing (3 mm)
    agatston_unscaled: float  # sum of area x weight at the native slice spacing
    volume_mm3: float
    mass_mg: float
    area_mm2: float  # summed area of the counted per-slice lesions
    max_area_mm2: float  # largest counted per-slice lesion
    peak_hu: float  # highest HU of the counted lesions (0 when none)
    mean_hu: float  # mean HU of the counted lesions' voxels (0 when none)
    lesions: int  # counted per-slice lesions


@dataclass(frozen=True)
class CalciumReport:
    """Per-artery and total scores, the risk category and the rules that produced them."""

    arteries: dict[str, CalciumScore]
    total: CalciumScore
    category: RiskCategory
    rules: ScoringRules
    slice_mm: float
    pixel_area_mm2: float

    @property
    def rules_text(self) -> str:
        return self.rules.describe(self.slice_mm)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: arteries, total, category, slice spacing, pixel area and the rules."""
        return {
            "arteries": {name: asdict(score) for name, score in self.arteries.items()},
            "total": asdict(self.total),
            "risk_category": asdict(self.category),
            "slice_spacing_mm": self.slice_mm,
            "pixel_area_mm2": self.pixel_area_mm2,
            "mass_calibration_mg_per_cm3_per_hu": self.rules.mass_calibration,
            "rules": self.rules_text,
        }


def find_lesions(hu: np.ndarray, region: np.ndarray, geometry: Geometry,
                 rules: ScoringRules = DEFAULT_RULES) -> SliceLesions:
    """Per-slice lesions of the calcium (HU >= threshold) inside boolean ``region`` of a (z, y, x) volume."""
    if hu.shape != region.shape or hu.ndim != 3 or tuple(hu.shape) != geometry.shape:
        raise ValueError(f"HU {hu.shape}, region {region.shape} and geometry {geometry.shape} must match (3D)")
    calcium = np.asarray(region, dtype=bool) & (hu >= rules.threshold_hu)
    box = _bounding_box(calcium)
    calcium, values = calcium[box], hu[box]
    labels, count = ndimage.label(calcium, structure=_IN_PLANE_8)
    flat = labels.ravel()
    pixels = np.bincount(flat, minlength=count + 1)[1:]
    sums = np.bincount(flat, weights=values.ravel().astype(np.float64), minlength=count + 1)[1:]
    where = np.flatnonzero(flat)
    peaks = np.full(count + 1, -np.inf)
    np.maximum.at(peaks, flat[where], values.ravel()[where].astype(np.float64))
    slices = np.zeros(count + 1, dtype=np.int64)
    slices[flat[where]] = where // max(labels.shape[1] * labels.shape[2], 1) + box[0].start
    peaks, slices = peaks[1:], slices[1:]
    area = pixels * (geometry.spacing[0] * geometry.spacing[1])
    weight = 1 + np.searchsorted(np.asarray(WEIGHT_BOUNDS_HU), peaks, side="right")
    return SliceLesions(labels, tuple(s.start for s in box), slices, pixels, peaks, sums, area,
                        weight.astype(np.int64), area >= rules.min_area_mm2)


def score_lesions(lesions: SliceLesions, geometry: Geometry, rules: ScoringRules = DEFAULT_RULES,
                  select: np.ndarray | None = None) -> CalciumScore:
    """Scores of the counted lesions (optionally only those where boolean ``select`` is true)."""
    keep = lesions.counted if select is None else lesions.counted & select
    area = lesions.area_mm2[keep]
    unscaled = float(np.sum(area * lesions.weight[keep]))
    voxel_mm3 = float(np.prod(geometry.spacing))
    volume = float(lesions.pixels[keep].sum()) * voxel_mm3
    mass = rules.mass_calibration * float(lesions.hu_sum[keep].sum()) * voxel_mm3 / 1000.0
    return CalciumScore(
        agatston=unscaled * rules.slice_factor(geometry.spacing[2]),
        agatston_unscaled=unscaled,
        volume_mm3=volume,
        mass_mg=mass,
        area_mm2=float(area.sum()),
        max_area_mm2=float(area.max(initial=0.0)),
        peak_hu=float(lesions.peak_hu[keep].max(initial=0.0)),
        mean_hu=float(lesions.hu_sum[keep].sum() / lesions.pixels[keep].sum()) if keep.any() else 0.0,
        lesions=int(keep.sum()),
    )


def score_arteries(hu: np.ndarray, arteries: np.ndarray, geometry: Geometry,
                   rules: ScoringRules = DEFAULT_RULES) -> CalciumReport:
    """Scores per artery of label map ``arteries`` (1 LM, 2 LAD, 3 LCX, 4 RCA; other values ignored)."""
    if hu.shape != arteries.shape:
        raise ValueError(f"HU {hu.shape} and artery labels {arteries.shape} must have the same shape")
    per_artery = {name: score_lesions(find_lesions(hu, arteries == value, geometry, rules), geometry, rules)
                  for value, name in ARTERIES.items()}
    total = _sum_scores(list(per_artery.values()))
    return CalciumReport(per_artery, total, risk_category(total.agatston), rules, geometry.spacing[2],
                         geometry.spacing[0] * geometry.spacing[1])


def score_components(hu: np.ndarray, components: np.ndarray, geometry: Geometry,
                     rules: ScoringRules = DEFAULT_RULES) -> dict[int, CalciumScore]:
    """Scores of each 3D lesion of ``components`` (26-connected component ids, 0 = none), by id."""
    lesions = find_lesions(hu, components > 0, geometry, rules)
    if not len(lesions):
        return {}
    box = tuple(slice(o, o + n) for o, n in zip(lesions.offset, lesions.labels.shape, strict=True))
    flat = lesions.labels.ravel()
    where = np.flatnonzero(flat)
    owner = np.zeros(len(lesions) + 1, dtype=np.int64)
    owner[flat[where]] = components[box].ravel()[where]
    owner = owner[1:]
    return {int(i): score_lesions(lesions, geometry, rules, owner == i) for i in np.unique(owner)}


def _sum_scores(scores: list[CalciumScore]) -> CalciumScore:
    return CalciumScore(
        agatston=sum(s.agatston for s in scores),
        agatston_unscaled=sum(s.agatston_unscaled for s in scores),
        volume_mm3=sum(s.volume_mm3 for s in scores),
        mass_mg=sum(s.mass_mg for s in scores),
        area_mm2=sum(s.area_mm2 for s in scores),
        max_area_mm2=max((s.max_area_mm2 for s in scores), default=0.0),
        peak_hu=max((s.peak_hu for s in scores), default=0.0),
        mean_hu=_weighted_mean([s.mean_hu for s in scores], [s.volume_mm3 for s in scores]),
        lesions=sum(s.lesions for s in scores),
    )


def _weighted_mean(values: list[float], weights: list[float]) -> float:
    total = sum(weights)
    return sum(v * w for v, w in zip(values, weights, strict=True)) / total if total else 0.0


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice, slice]:
    """The smallest box holding ``mask`` (an empty box at the origin when the mask is empty)."""
    if not mask.any():
        return (slice(0, 0), slice(0, 0), slice(0, 0))
    z, y, x = (slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(mask))
    return z, y, x
