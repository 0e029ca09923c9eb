"""Brain MRI phantom: four co-registered axial sequences (T1, T1c, T2, FLAIR) with a glioma-like tumour.

Anatomy: scalp, skull, CSF, cortical grey matter with gyral folding, white matter, deep grey nuclei,
lateral ventricles and an interhemispheric fissure. The tumour has BraTS 2023 labels: 1 necrosis (NCR),
2 peritumoural oedema (ED), 3 enhancing tumour (ET). Contrasts follow the sequences: ET bright on T1c,
necrosis dark on T1c and bright on T2, oedema bright on T2 and FLAIR, CSF suppressed on FLAIR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry
from engine.volume import CodedConcept, Label, LabelMap, Volume
from training.phantoms.shapes import (
    axial_grid,
    bias_field,
    centred_axial_geometry,
    ellipsoid_r2,
    rician,
    rotation,
    smooth_noise,
)

SEQUENCES = ("T1", "T1c", "T2", "FLAIR")
FIELD_OF_VIEW_MM = (160.0, 192.0, 160.0)  # x, y, z
BRATS_LABELS = (
    Label(1, "NCR", (255, 0, 0), CodedConcept("86049000", "SCT", "Necrosis")),
    Label(2, "ED", (0, 255, 0), CodedConcept("79654002", "SCT", "Edema")),
    Label(3, "ET", (255, 255, 0), CodedConcept("108369006", "SCT", "Neoplasm")),
)
_LABEL_NAMES = {1: "NCR", 2: "ED", 3: "ET"}

# Tissue classes of the internal model, and their relative signal per sequence (T1, T1c, T2, FLAIR).
_AIR, _SCALP, _SKULL, _CSF, _GM, _WM, _DEEP_GM, _NCR, _ED, _ET = range(10)
_SIGNAL = np.array([
    [0.00, 0.00, 0.00, 0.00],  # air
    [0.95, 0.95, 0.75, 0.70],  # scalp (fat)
    [0.08, 0.08, 0.06, 0.05],  # skull
    [0.22, 0.22, 1.00, 0.07],  # CSF
    [0.58, 0.60, 0.62, 0.62],  # grey matter
    [0.82, 0.83, 0.45, 0.48],  # white matter
    [0.66, 0.67, 0.55, 0.56],  # deep grey matter
    [0.28, 0.24, 0.92, 0.40],  # necrosis
    [0.60, 0.62, 0.86, 0.96],  # oedema
    [0.55, 1.30, 0.68, 0.74],  # enhancing tumour
], dtype=np.float32)
_SCALE = 1600.0  # stored value per unit signal (12-bit)


@dataclass
class BrainMriCase:
    """Four sequences on one grid, the BraTS label map and the derived truth."""

    seed: int
    sequences: dict[str, np.ndarray]  # name -> (z, y, x) uint16
    geometry: Geometry
    labels: np.ndarray  # (z, y, x) uint8, BraTS 2023 values 0..3
    volumes_ml: dict[str, float]  # NCR, ED, ET, TC (1+3), WT (1+2+3)
    side: str  # patient side of the tumour: "left" | "right" ("none": a tumour-free brain)
    centre_lps: tuple[float, float, float]  # centroid of the whole tumour

    def volume(self, sequence: str) -> Volume:
        """One sequence as an engine Volume (modality MR)."""
        return Volume(self.sequences[sequence], self.geometry, modality="MR")

    def label_map(self) -> LabelMap:
        """The tumour label map with the BraTS label table."""
        return LabelMap(self.labels, self.geometry, list(BRATS_LABELS))

    def truth(self) -> dict:
        """JSON-ready ground truth."""
        return {
            "kind": "brain_mri",
            "seed": self.seed,
            "shape": list(self.geometry.shape),
            "spacing_mm": list(self.geometry.spacing),
            "labels": {"1": "NCR necrosis", "2": "ED oedema", "3": "ET enhancing tumour"},
            "volumes_ml": self.volumes_ml,
            "side": self.side,
            "centre_lps": list(self.centre_lps),
        }


def make_brain_mri(seed: int, shape: tuple[int, int, int] = (160, 192, 160), tumour: bool = True) -> BrainMriCase:
    """Render the four sequences on a (z, y, x) grid of ``shape`` covering a fixed 160x192x160 mm field.

    ``tumour=False`` renders the same head without its tumour (the tumour is still drawn from the random
    stream, so every other parameter of the seed is unchanged): a tumour-free brain, empty label map."""
    rng = np.random.default_rng([seed, 2002])
    spacing = tuple(fov / n for fov, n in zip(FIELD_OF_VIEW_MM, shape[::-1], strict=True))
    geometry = centred_axial_geometry(shape, spacing)
    grid = axial_grid(geometry)
    voxel = float(np.mean(spacing))

    tissue, brain_centre, brain_radii = _anatomy(rng, grid, shape, voxel)
    side = 1 if rng.random() < 0.5 else -1
    labels = _tumour(rng, grid, tissue, brain_centre, brain_radii, side, voxel)
    if not tumour:
        labels = np.zeros_like(labels)
    tissue[labels == 1] = _NCR
    tissue[labels == 2] = _ED
    tissue[labels == 3] = _ET

    texture = 1.0 + 0.04 * smooth_noise(rng, shape, 4.0 / voxel)
    texture[labels > 0] += 0.06 * smooth_noise(rng, shape, 2.5 / voxel)[labels > 0]
    sequences = {}
    for index, name in enumerate(SEQUENCES):
        signal = _SIGNAL[tissue, index] * texture
        signal = ndimage.gaussian_filter(signal, 0.6)
        signal *= bias_field(rng, shape, rng.uniform(0.1, 0.25))
        signal = rician(rng, signal, rng.uniform(0.015, 0.035))
        sequences[name] = np.clip(np.rint(signal * _SCALE), 0, 4095).astype(np.uint16)

    voxel_ml = float(np.prod(spacing)) / 1000.0
    counts = np.bincount(labels.ravel(), minlength=4)
    volumes = {name: round(float(counts[value]) * voxel_ml, 4) for value, name in _LABEL_NAMES.items()}
    volumes["TC"] = round(float(counts[1] + counts[3]) * voxel_ml, 4)
    volumes["WT"] = round(float(counts[1:].sum()) * voxel_ml, 4)
    if labels.any():
        centre = geometry.voxel_to_patient(np.argwhere(labels > 0).mean(axis=0))
        tumour_side = "left" if centre[0] > brain_centre[0] else "right"
    else:
        centre, tumour_side = np.asarray(brain_centre, dtype=float), "none"
    return BrainMriCase(seed, sequences, geometry, labels, volumes, tumour_side,
                        tuple(round(float(v), 3) for v in centre))


def _anatomy(rng: np.random.Generator, grid: tuple[np.ndarray, ...], shape: tuple[int, int, int],
             voxel: float) -> tuple[np.ndarray, tuple[float, float, float], tuple[float, float, float]]:
    """Tissue classes of the head; returns them with the brain ellipsoid centre and radii (mm)."""
    z, y, x = grid
    head = np.array([rng.uniform(68, 74), rng.uniform(86, 92), rng.uniform(72, 80)])
    centre = (rng.uniform(-2, 2), rng.uniform(-3, 3), rng.uniform(-12, -4))
    rot = rotation(rng, 4.0)
    scalp, skull = rng.uniform(4, 7), rng.uniform(5, 8)
    csf = rng.uniform(1.5, 3.0)
    brain = tuple(float(r) for r in head - scalp - skull - csf)
    tissue = np.zeros(shape, dtype=np.uint8)
    tissue[ellipsoid_r2(grid, centre, tuple(head), rot) < 1] = _SCALP
    tissue[ellipsoid_r2(grid, centre, tuple(head - scalp), rot) < 1] = _SKULL
    tissue[ellipsoid_r2(grid, centre, tuple(head - scalp - skull), rot) < 1] = _CSF

    folding = smooth_noise(rng, shape, 7.0 / voxel)
    brain_r = np.sqrt(ellipsoid_r2(grid, centre, brain, rot)) + 0.05 * folding
    tissue[brain_r < 1] = _GM
    cortex = rng.uniform(2.5, 3.5) / float(np.mean(brain))
    white = brain_r < 1 - cortex
    tissue[white] = _WM
    sulci = (brain_r < 1) & ~white & (smooth_noise(rng, shape, 3.0 / voxel) > 1.1)
    tissue[sulci] = _CSF
    fissure = (np.abs(x - np.float32(centre[0])) < 1.5) & (z > np.float32(centre[2] - 10)) & (brain_r < 1)
    tissue[fissure & (y < np.float32(centre[1] + 60))] = _CSF

    for side in (-1, 1):
        nucleus = (centre[0] + side * rng.uniform(9, 12), centre[1] + rng.uniform(2, 8), centre[2] + 8)
        tissue[ellipsoid_r2(grid, nucleus, (8.0, 12.0, 9.0), rot) < 1] = _DEEP_GM
        horn = (centre[0] + side * rng.uniform(6, 9), centre[1] - rng.uniform(2, 8), centre[2] + 20)
        radii = (rng.uniform(4, 7), rng.uniform(20, 26), rng.uniform(6, 9))
        tissue[ellipsoid_r2(grid, horn, radii, rot @ rotation(rng, 8.0)) < 1] = _CSF
    return tissue, centre, brain


def _tumour(rng: np.random.Generator, grid: tuple[np.ndarray, ...], tissue: np.ndarray,
            brain_centre: tuple[float, float, float], brain_radii: tuple[float, float, float], side: int,
            voxel: float) -> np.ndarray:
    """BraTS label map of an irregular tumour (necrosis inside an enhancing rim inside oedema)."""
    z, y, x = grid
    outer = rng.uniform(15, 30)
    centre = (brain_centre[0] + side * rng.uniform(0.3, 0.5) * brain_radii[0],
              brain_centre[1] + rng.uniform(-0.45, 0.45) * brain_radii[1],
              brain_centre[2] + rng.uniform(0.0, 0.45) * brain_radii[2])
    enhancing = outer * rng.uniform(0.4, 0.65)
    necrosis = enhancing * rng.uniform(0.35, 0.7) if rng.random() < 0.85 else 0.0
    stretch = rng.uniform(0.8, 1.2, size=3)
    reach = outer * 1.6
    box = tuple(
        slice(max(0, int(np.searchsorted(axis.ravel(), c - reach))),
              int(np.searchsorted(axis.ravel(), c + reach)))
        for axis, c in ((z, centre[2]), (y, centre[1]), (x, centre[0]))
    )
    sub = (z[box[0]], y[:, box[1]], x[:, :, box[2]])
    sub_shape = tuple(s.stop - s.start for s in box)
    distance = np.sqrt(ellipsoid_r2(sub, centre, tuple(stretch), rotation(rng, 30.0)))
    core = distance * (1 + 0.12 * smooth_noise(rng, sub_shape, 6.0 / voxel))
    spread = distance * (1 + 0.3 * smooth_noise(rng, sub_shape, 5.0 / voxel))
    region = tissue[box]
    brain = (region == _GM) | (region == _WM) | (region == _DEEP_GM)
    labels = np.zeros(tissue.shape, dtype=np.uint8)
    sub_labels = labels[box]
    sub_labels[(spread < outer) & (brain | (region == _CSF) & (spread < enhancing * 1.2))] = 2
    sub_labels[(spread < outer * 0.8) & (region == _WM)] = 2
    sub_labels[core < enhancing] = 3
    sub_labels[core < necrosis] = 1
    components, _ = ndimage.label(sub_labels > 0)
    keep = np.bincount(components[sub_labels == 3]).argmax()  # the component holding the enhancing rim
    sub_labels[components != keep] = 0
    return labels
