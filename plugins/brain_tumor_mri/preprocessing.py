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
from scipy import ndimage

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
NOISE_MARGIN = 5.0  # ... and, smoothed, above the air's median + this many robust SDs
AIR_CEILING = 0.25  # the dark Otsu class counts as air only when its median is below this
Z_CLIP = 5.0


@dataclass(frozen=True)
class PreparedBrain:
    """The model input: ``image`` float32 (4, z, y, x) on ``grid``; ``source`` is the T1c grid."""

    image: np.ndarray
    grid: Geometry
    source: Geometry
    warnings: list[str] = field(default_factory=list)
    air_level: float | None = None  # median signal of the air (air_level); None when the view holds no air


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
    the head of an unstripped scan, the brain of a skull-stripped (zero background) one; and whose smoothed
    signal (Gaussian, sigma 1 voxel) is above the air's noise floor (``noise_floor``).

    In a noisy scan, the Rician magnitude of the air (mean 1.25 sigma) passes MASK_FRACTION alone; without the
    floor the mask then holds most of the air and the z-scores are taken over it. In a scan with little noise
    the floor lies below MASK_FRACTION and the mask is the plain threshold."""
    signal, smoothed = normalised_signal(channels)
    return _head(signal, smoothed, air_class(smoothed))


def _head(signal: np.ndarray, smoothed: np.ndarray, air: np.ndarray | None) -> np.ndarray:
    return (signal > MASK_FRACTION) & (smoothed > _floor(air))


def normalised_signal(channels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean over sequences of each sequence divided by its 99th percentile, and that mean smoothed
    (Gaussian, sigma 1 voxel)."""
    scaled = [c / max(float(np.percentile(c, 99)), 1e-6) for c in np.asarray(channels, dtype=np.float32)]
    signal = np.mean(scaled, axis=0)
    return signal, ndimage.gaussian_filter(signal, 1.0)


def air_class(smoothed: np.ndarray) -> np.ndarray | None:
    """The values of the dark (Otsu) class of the smoothed normalised signal when it is air (its median below
    AIR_CEILING); None when the field of view holds no air."""
    values = np.asarray(smoothed, dtype=np.float64).ravel()
    dark = values[values < otsu_threshold(values)]
    if dark.size == 0 or float(np.median(dark)) >= AIR_CEILING:
        return None
    return dark


def air_level(smoothed: np.ndarray) -> float | None:
    """Median of the air class (``air_class``): the mean Rician magnitude of the background, about 1.25 noise
    sigmas over the 99th percentile signal. None when the field of view holds no air."""
    return _median(air_class(smoothed))


def _median(air: np.ndarray | None) -> float | None:
    return None if air is None else float(np.median(air))


def noise_review(prepared: PreparedBrain, max_air_level: float | None) -> str | None:
    """Why every finding should be put to "needs review" when the scan's air is brighter (noisier) than
    ``max_air_level``, the limit fitted on validation (manifest ``[preprocessing].max_air_level``); else None."""
    if max_air_level is None or prepared.air_level is None or prepared.air_level <= max_air_level:
        return None
    return (f"image noisier than the model was validated on: background signal {prepared.air_level:.3f} of the "
            f"99th percentile (validated up to {max_air_level:.3f})")


def noise_floor(smoothed: np.ndarray) -> float:
    """Median + NOISE_MARGIN robust SDs (1.4826 x MAD) of the air class of ``smoothed`` (``air_class``);
    0 when the field of view holds no air."""
    return _floor(air_class(smoothed))


def _floor(air: np.ndarray | None) -> float:
    if air is None:
        return 0.0
    median = float(np.median(air))
    return median + NOISE_MARGIN * 1.4826 * float(np.median(np.abs(air - median)))


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of ``values``: the histogram split (``bins`` bins) with the largest between-class
    variance; the smallest value when no split separates anything (all values equal)."""
    values = np.asarray(values, dtype=np.float64)
    histogram, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight_low = np.cumsum(histogram)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(histogram * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_low = sum_low / weight_low
        mean_high = (sum_low[-1] - sum_low) / weight_high
        between = weight_low * weight_high * (mean_low - mean_high) ** 2
    between = np.nan_to_num(between[:-1], nan=-1.0)
    if between.size == 0 or between.max() <= 0:
        return float(values.min())
    return float(edges[int(np.argmax(between)) + 1])


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
    signal, smoothed = normalised_signal(stack)
    air = air_class(smoothed)  # one Otsu split serves the mask's noise floor and the scan's air level
    return PreparedBrain(zscore(stack, _head(signal, smoothed, air)), grid, source, warnings, _median(air))


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
