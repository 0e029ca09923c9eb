"""Brain-tumour MRI preprocessing and region decoding, shared by training (training/brain) and the plugin.

``coregister`` checks that the four sequences share the reference (T1c) series' frame of reference and
voxel grid; any that does not is resampled onto the T1c grid (engine.resample, linear) and a warning says so.
``prepare_brain`` puts the stack on the isotropic model grid (same extent and orientation; Gaussian
anti-aliasing before downsampling) and z-scores each sequence inside the head / non-zero mask.
``to_source_grid`` brings model-grid maps back onto the T1c grid. Region maps are the nested BraTS
regions WT (labels 1+2+3), TC (1+3) and ET (3); ``labels_from_regions`` turns them back into labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.ai.tiling import TilePredictor, sliding_window
from engine.geometry import Geometry
from engine.progress import CancelToken, ProgressCallback
from engine.resample import resample as resample_grid
from engine.resample import smooth
from engine.volume import Volume

SEQUENCES = ("T1", "T1c", "T2", "FLAIR")
REFERENCE = "T1c"
REGIONS = ("WT", "TC", "ET")
MODEL_SPACING_MM = 2.0
MASK_FRACTION = 0.1  # head mask: mean of per-sequence (value / 99th percentile) above this
Z_CLIP = 5.0


@dataclass(frozen=True)
class PreparedBrain:
    """The model input: ``image`` float32 (4, z, y, x) on ``grid``; ``source`` is the T1c grid."""

    image: np.ndarray
    grid: Geometry
    source: Geometry
    warnings: list[str] = field(default_factory=list)


def coregister(volumes: Mapping[str, Volume], reference: str = REFERENCE,
               tolerance_mm: float = 1e-3) -> tuple[dict[str, Volume], list[str]]:
    """The sequences on the ``reference`` grid, and one warning per sequence that had to be resampled.

    A sequence is kept as is when it has the reference's FrameOfReferenceUID (both empty counts as the
    same, e.g. NIfTI) and the same grid. Otherwise it is resampled linearly by patient coordinates, which
    assumes the scanner kept one patient coordinate system: the warning asks the reader to check.
    """
    missing = [name for name in SEQUENCES if name not in volumes]
    if missing:
        raise ValueError(f"brain tumour preprocessing needs sequences {', '.join(missing)}")
    target = volumes[reference]
    aligned: dict[str, Volume] = {}
    warnings: list[str] = []
    for name in SEQUENCES:
        volume = volumes[name]
        same_frame = volume.ids.frame_of_reference_uid == target.ids.frame_of_reference_uid
        same_grid = volume.geometry.same_grid(target.geometry, tolerance_mm)
        if same_frame and same_grid:
            aligned[name] = volume
            continue
        reasons = [text for ok, text in ((same_frame, "another frame of reference"),
                                         (same_grid, "another voxel grid")) if not ok]
        warnings.append(f"{name} has {' and '.join(reasons)} than {reference}: resampled onto the {reference} "
                        "grid (linear) by patient coordinates; check that the sequences are co-registered")
        array = resample(volume.array, volume.geometry, target.geometry)
        aligned[name] = Volume(array, target.geometry, volume.modality, volume.ids, volume.meta)
    return aligned, warnings


def model_grid(source: Geometry, spacing_mm: float = MODEL_SPACING_MM) -> Geometry:
    """The isotropic grid covering the extent of ``source`` with the same orientation."""
    old = np.asarray(source.spacing)
    shape_xyz = np.maximum(1, np.rint(np.asarray(source.shape[::-1]) * old / spacing_mm)).astype(int)
    new = np.full(3, float(spacing_mm))
    origin = np.asarray(source.origin) + source.direction @ ((new - old) / 2.0)  # keep the first corner
    return Geometry(shape=tuple(int(n) for n in shape_xyz[::-1]), spacing=tuple(new),
                    origin=tuple(origin), direction=source.direction)


def resample(array: np.ndarray, source: Geometry, target: Geometry, order: int = 1,
             antialias: bool = True) -> np.ndarray:
    """``array`` on ``source`` resampled onto ``target`` (float32; linear, or nearest with ``order=0``).

    With ``antialias``, axes that get coarser are Gaussian-smoothed first (sigma = half the spacing gain).
    Points outside the source read 0.
    """
    image = np.asarray(array, dtype=np.float32)
    gain = np.asarray(target.spacing) - np.asarray(source.spacing)
    if antialias and order and np.any(gain > 1e-6):
        sigma = [max(float(g) / 2.0, 1e-3) for g in gain]
        image = smooth(image, source, sigma)
    return resample_grid(image, source, target, order=order, fill=0.0, dtype=np.float32)


def head_mask(channels: np.ndarray) -> np.ndarray:
    """Voxels whose mean normalised signal (each sequence over its 99th percentile) exceeds MASK_FRACTION:
    the head of an unstripped scan, the brain of a skull-stripped (zero background) one."""
    scaled = [c / max(float(np.percentile(c, 99)), 1e-6) for c in np.asarray(channels, dtype=np.float32)]
    return np.mean(scaled, axis=0) > MASK_FRACTION


def zscore(channels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each channel minus its mean, over its standard deviation, inside ``mask``; 0 outside; clipped."""
    out = np.zeros(channels.shape, dtype=np.float32)
    if not mask.any():
        return out
    for index, channel in enumerate(np.asarray(channels, dtype=np.float32)):
        values = channel[mask]
        out[index][mask] = (values - values.mean()) / max(float(values.std()), 1e-6)
    return np.clip(out, -Z_CLIP, Z_CLIP)


def prepare_brain(volumes: Mapping[str, Volume], spacing_mm: float = MODEL_SPACING_MM) -> PreparedBrain:
    """Co-register onto T1c, resample to the ``spacing_mm`` isotropic model grid, z-score per sequence."""
    aligned, warnings = coregister(volumes)
    source = aligned[REFERENCE].geometry
    grid = model_grid(source, spacing_mm)
    stack = np.stack([resample(aligned[name].array, source, grid) for name in SEQUENCES])
    return PreparedBrain(zscore(stack, head_mask(stack)), grid, source, warnings)


def to_source_grid(maps: np.ndarray, prepared: PreparedBrain) -> np.ndarray:
    """Model-grid maps (c, z, y, x) linearly resampled onto the source (T1c) grid -> (c, Z, Y, X)."""
    return np.stack([resample(m, prepared.grid, prepared.source, antialias=False) for m in maps])


def regions_from_labels(labels: np.ndarray) -> np.ndarray:
    """BraTS 2023 labels (1 NCR, 2 ED, 3 ET) -> bool (3, ...) regions WT, TC, ET."""
    labels = np.asarray(labels)
    return np.stack([labels > 0, (labels == 1) | (labels == 3), labels == 3])


def labels_from_regions(regions: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Bool regions (WT, TC, ET) -> uint8 labels, nesting enforced by union: ET -> 3, else TC -> 1 (NCR),
    else WT -> 2 (ED)."""
    wt, tc, et = (np.asarray(r, dtype=bool) for r in regions)
    labels = np.zeros(wt.shape, dtype=np.uint8)
    labels[wt] = 2
    labels[tc] = 1
    labels[et] = 3
    return labels


def segment(prepared: PreparedBrain, predictor: TilePredictor, window: Sequence[int], overlap: float = 0.25,
            progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> np.ndarray:
    """Region logits (3, Z, Y, X) on the source (T1c) grid: Gaussian-blended sliding window over the model
    grid with ``predictor`` (tiles (b, 4, *window) -> logits (b, 3, *window)), then linear resampling."""
    logits = sliding_window(prepared.image, window, predictor, overlap=overlap, progress=progress, cancel=cancel)
    return to_source_grid(logits, prepared)
