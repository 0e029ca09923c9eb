"""Prostate T2-weighted MRI phantom (axial, about 0.5 x 0.5 x 3 mm) with PI-RADS-like classes and reports.

Anatomy: pelvic fat, obturator internus muscles, pubic and ischial bones, bladder (bright urine), rectum
(dark wall, gas), prostate with peripheral zone (bright), transition zone (heterogeneous), anterior
fibromuscular stroma (dark), capsule and urethra. Class 1 (clinically significant) cases carry a markedly
hypointense peripheral-zone lesion (PI-RADS 4 below 15 mm, 5 from 15 mm); class 0 cases are PI-RADS 1
(normal), 2 (wedge-shaped mild low signal) or 3 (small faint equivocal focus).
Label map values: 1 peripheral zone, 2 transition zone (with the stroma), 3 lesion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry
from engine.volume import CodedConcept, Label, LabelMap, Volume
from training.phantoms.reports import prostate_report
from training.phantoms.shapes import (
    axial_grid,
    bias_field,
    centred_axial_geometry,
    ellipsoid_r2,
    rician,
    rotation,
    smooth_noise,
)

FIELD_OF_VIEW_MM = (128.0, 128.0, 72.0)  # x, y, z
ZONE_LABELS = (
    Label(1, "PZ", (0, 200, 255), CodedConcept("279706003", "SCT", "Peripheral zone of the prostate")),
    Label(2, "TZ", (255, 160, 0), CodedConcept("399384005", "SCT", "Transition zone of the prostate")),
    Label(3, "Lesion", (255, 0, 0), CodedConcept("108369006", "SCT", "Neoplasm")),
)
_SCALE = 1500.0


@dataclass
class ProstateMriCase:
    """A T2 volume, its zone/lesion label map, class, PI-RADS, lesion truth and report text."""

    seed: int
    image: np.ndarray  # (z, y, x) uint16
    geometry: Geometry
    labels: np.ndarray  # (z, y, x) uint8: 1 PZ, 2 TZ, 3 lesion
    label_class: int  # 0 negative, 1 clinically significant
    pirads: int
    prostate_volume_ml: float
    lesion: dict | None  # side, zone, level, size_mm, centre_voxel, centre_lps (PI-RADS >= 3 only)
    report: str

    def volume(self) -> Volume:
        """The T2 image as an engine Volume (modality MR)."""
        return Volume(self.image, self.geometry, modality="MR")

    def label_map(self) -> LabelMap:
        """Zones and lesion as a label map."""
        return LabelMap(self.labels, self.geometry, list(ZONE_LABELS))

    def truth(self) -> dict:
        """JSON-ready ground truth."""
        return {
            "kind": "prostate_mri",
            "seed": self.seed,
            "shape": list(self.geometry.shape),
            "spacing_mm": list(self.geometry.spacing),
            "class": self.label_class,
            "class_meaning": {"0": "negative", "1": "clinically significant cancer"},
            "pirads": self.pirads,
            "prostate_volume_ml": self.prostate_volume_ml,
            "lesion": self.lesion,
            "report": self.report,
            "labels": {"1": "peripheral zone", "2": "transition zone", "3": "lesion"},
        }


def make_prostate_mri(seed: int, positive: bool | None = None,
                      shape: tuple[int, int, int] = (24, 256, 256)) -> ProstateMriCase:
    """Render a prostate T2 volume on a (z, y, x) grid covering 72 x 128 x 128 mm; class random if None."""
    rng = np.random.default_rng([seed, 4004])
    drawn_class = bool(rng.random() < 0.5)
    positive = drawn_class if positive is None else bool(positive)
    spacing = tuple(fov / n for fov, n in zip(FIELD_OF_VIEW_MM, shape[::-1], strict=True))
    geometry = centred_axial_geometry(shape, spacing, centre=(rng.uniform(-4, 4), rng.uniform(-4, 4), 0.0))
    grid = axial_grid(geometry)
    voxel = float(np.mean(spacing[:2]))

    signal, labels, radii, rot = _pelvis(rng, grid, shape, voxel)
    pirads = int(rng.choice([4, 5])) if positive else int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
    lesion = _lesion(rng, grid, geometry, signal, labels, radii, pirads)
    signal = ndimage.gaussian_filter(signal, (0.3, 0.6, 0.6))
    signal *= bias_field(rng, shape, rng.uniform(0.15, 0.35))
    signal = rician(rng, signal, rng.uniform(0.015, 0.03))
    image = np.clip(np.rint(signal * _SCALE), 0, 4095).astype(np.uint16)
    volume_ml = round(float(np.count_nonzero(labels)) * float(np.prod(spacing)) / 1000.0, 2)
    report = prostate_report(rng, pirads, volume_ml, lesion)
    return ProstateMriCase(seed, image, geometry, labels, int(positive), pirads, volume_ml, lesion, report)


def _pelvis(rng: np.random.Generator, grid: tuple[np.ndarray, ...], shape: tuple[int, int, int],
            voxel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """T2 signal (float32) and zone labels of the pelvis; returns the prostate radii and rotation too."""
    z, y, x = grid
    signal = np.full(shape, 0.72, dtype=np.float32) * (1 + 0.06 * smooth_noise(rng, shape, 3.0 / voxel))
    for side in (-1, 1):
        signal[ellipsoid_r2(grid, (side * rng.uniform(52, 58), 0.0, 0.0), (9.0, 30.0, 80.0)) < 1] = 0.25
        for centre, radii in (((side * 13.0, -40.0, 0.0), (10.0, 8.0, 40.0)),
                              ((side * 47.0, 28.0, -10.0), (11.0, 11.0, 40.0))):
            r2 = ellipsoid_r2(grid, centre, radii)
            signal[r2 < 1] = 0.1
            signal[r2 < 0.7] = 0.55
    radii = np.array([rng.uniform(20, 27), rng.uniform(14, 19), rng.uniform(15, 21)])
    rot = rotation(rng, 6.0)
    bladder_r = (rng.uniform(28, 38), rng.uniform(22, 30), rng.uniform(18, 26))
    bladder = ellipsoid_r2(grid, (0.0, -8.0, radii[2] + bladder_r[2] - 6), bladder_r)
    signal[bladder < 1.0] = 0.3
    signal[bladder < 0.8] = 1.0
    rectum_y = radii[1] + rng.uniform(11, 15)
    rectum = np.sqrt((x - np.float32(rng.uniform(-3, 3))) ** 2 + (y - np.float32(rectum_y)) ** 2)
    rectum = np.broadcast_to(rectum, shape)
    signal[rectum < 12] = 0.28
    signal[rectum < 8] = 0.05
    signal[(np.abs(rectum - 14) < 1.5) & (np.abs(y - rectum_y) < 15)] = 0.3  # levator ani sling

    prostate = ellipsoid_r2(grid, (0.0, 0.0, 0.0), tuple(radii), rot)
    tz_radii = radii * np.array([rng.uniform(0.5, 0.7), rng.uniform(0.5, 0.65), rng.uniform(0.6, 0.8)])
    tz = ellipsoid_r2(grid, (0.0, -0.25 * radii[1], 0.1 * radii[2]), tuple(tz_radii), rot)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[prostate < 1] = 1
    labels[(prostate < 1) & ((tz < 1) | (y < np.float32(-0.55 * radii[1])))] = 2
    signal[prostate < 1.12] = 0.22  # capsule
    signal[labels == 1] = 0.8
    nodular = 0.45 + 0.12 * smooth_noise(rng, shape, 4.0 / voxel)
    signal[labels == 2] = nodular[labels == 2]
    signal[(labels == 2) & (y < np.float32(-0.6 * radii[1]))] = 0.24  # anterior fibromuscular stroma
    urethra = (x**2 + (y + np.float32(0.15 * radii[1])) ** 2 < 2.5**2) & (prostate < 1)
    signal[np.broadcast_to(urethra, shape)] = 0.65
    for side in (-1, 1):  # neurovascular bundles
        bundle = (x - np.float32(side * 0.8 * radii[0])) ** 2 + (y - np.float32(0.8 * radii[1])) ** 2 < 9
        signal[np.broadcast_to(bundle, shape) & (prostate >= 1.12) & (prostate < 1.6)] = 0.35
    return signal, labels, radii, rot


def _lesion(rng: np.random.Generator, grid: tuple[np.ndarray, ...], geometry: Geometry, signal: np.ndarray,
            labels: np.ndarray, radii: np.ndarray, pirads: int) -> dict | None:
    """Paint the PI-RADS-appropriate peripheral-zone abnormality; truth for PI-RADS >= 3."""
    z, y, x = grid
    side = 1 if rng.random() < 0.5 else -1
    if pirads == 1:
        return None
    if pirads == 2:
        wedge = (labels == 1) & (np.abs(np.arctan2(x, y) - side * rng.uniform(0.3, 0.8)) < 0.12)
        signal[wedge] = 0.58
        return None
    diameter = {3: rng.uniform(6, 10), 4: rng.uniform(10, 14.5), 5: rng.uniform(15, 24)}[pirads]
    pz = np.argwhere(labels == 1)
    points = geometry.voxel_to_patient(pz.astype(float))
    posterior = (points[:, 0] * side > 0.25 * radii[0]) & (points[:, 1] > 0.1 * radii[1])
    posterior &= np.abs(points[:, 2]) < 0.75 * radii[2]
    choice = points[posterior] if posterior.any() else points
    centre = choice[int(rng.integers(len(choice)))]
    lesion_r = (diameter / 2, diameter / 2 * rng.uniform(0.7, 1.0), diameter / 2 * rng.uniform(0.7, 1.1))
    r2 = ellipsoid_r2(grid, tuple(centre), lesion_r, rotation(rng, 30.0))
    inside = (r2 < 1) & (labels > 0)
    contrast = 0.55 if pirads == 3 else rng.uniform(0.22, 0.32)
    edge = np.clip((1 - r2) * 3, 0, 1) if pirads == 3 else np.ones_like(r2)
    signal[inside] = (signal * (1 - edge) + contrast * edge)[inside]
    labels[inside] = 3
    level = "base" if centre[2] > radii[2] / 3 else "apex" if centre[2] < -radii[2] / 3 else "mid"
    return {
        "side": "left" if centre[0] > 0 else "right",
        "zone": "peripheral zone",
        "level": level,
        "size_mm": round(float(diameter), 1),
        "centre_voxel": [int(v) for v in np.rint(geometry.patient_to_voxel(centre))],
        "centre_lps": [round(float(v), 3) for v in centre],
    }
