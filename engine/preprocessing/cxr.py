"""Chest radiograph preprocessing and detection decoding, shared by training (training/cxr) and the plugin.

``prepare_cxr`` letterboxes a radiograph onto the square model grid: anti-aliased resize so that the
longer side fills ``size`` pixels (one isotropic ``scale`` = model pixels per source pixel, recorded),
zero padding at the bottom/right, and robust intensity normalisation (0.5th..99.5th percentile of the
image -> 0..1, clipped to -0.5..1.5). ``decode_peaks`` turns the detector's centre heatmap, size and
offset maps (stride ``stride`` on the model grid) into detections in source pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

MODEL_SIZE = 512
LOW_PERCENTILE, HIGH_PERCENTILE = 0.5, 99.5


@dataclass(frozen=True)
class PreparedCxr:
    """A radiograph on the model grid: ``image`` float32 (size, size), ``scale`` model px per source px."""

    image: np.ndarray
    scale: float
    source_shape: tuple[int, int]

    def to_source(self, rows_cols: np.ndarray) -> np.ndarray:
        """Continuous source (row, col) of model-grid (row, col) points ``(..., 2)`` (pixel centres map)."""
        return (np.asarray(rows_cols, dtype=np.float64) + 0.5) / self.scale - 0.5

    def to_model(self, rows_cols: np.ndarray) -> np.ndarray:
        """Continuous model-grid (row, col) of source (row, col) points ``(..., 2)``."""
        return (np.asarray(rows_cols, dtype=np.float64) + 0.5) * self.scale - 0.5


@dataclass(frozen=True)
class Detection:
    """One decoded peak: centre and diameter in source pixels, and the heatmap logit at the peak."""

    row: float
    col: float
    diameter_px: float
    logit: float


def normalise_intensity(image: np.ndarray, invert: bool = False) -> np.ndarray:
    """Robust 0..1 scaling (0.5th..99.5th percentile), clipped to -0.5..1.5; ``invert`` for MONOCHROME1."""
    values = np.asarray(image, dtype=np.float32)
    if invert:
        values = -values
    low, high = np.percentile(values, [LOW_PERCENTILE, HIGH_PERCENTILE])
    scaled = (values - low) / max(float(high - low), 1e-6)
    return np.clip(scaled, -0.5, 1.5).astype(np.float32)


def resize_to_grid(image: np.ndarray, scale: float) -> np.ndarray:
    """Anti-aliased resize by ``scale`` (Gaussian prefilter sigma = (1/scale - 1) / 2 when shrinking)."""
    values = np.asarray(image, dtype=np.float32)
    if abs(scale - 1.0) < 1e-9:
        return values.copy()
    if scale < 1.0:
        values = ndimage.gaussian_filter(values, sigma=(1.0 / scale - 1.0) / 2.0, mode="nearest")
    shape = tuple(max(1, int(round(n * scale))) for n in values.shape)
    factors = [new / old for new, old in zip(shape, values.shape, strict=True)]
    return ndimage.zoom(values, factors, order=1, mode="nearest", grid_mode=True).astype(np.float32)


def prepare_cxr(pixels: np.ndarray, size: int = MODEL_SIZE, invert: bool = False) -> PreparedCxr:
    """The model input for a 2D radiograph ``pixels`` (rows, cols): letterboxed, resized, normalised."""
    source = np.asarray(pixels)
    if source.ndim != 2 or min(source.shape) < 8:
        raise ValueError(f"a chest radiograph must be a 2D image of at least 8x8 pixels, got {source.shape}")
    scale = size / max(source.shape)
    resized = normalise_intensity(resize_to_grid(source, scale), invert=invert)
    image = np.zeros((size, size), dtype=np.float32)
    rows, cols = min(size, resized.shape[0]), min(size, resized.shape[1])
    image[:rows, :cols] = resized[:rows, :cols]
    return PreparedCxr(image=image, scale=float(scale), source_shape=(int(source.shape[0]), int(source.shape[1])))


def upsample_map(values: np.ndarray, prepared: PreparedCxr, stride: int) -> np.ndarray:
    """A coarse model output map (h, w) at ``stride`` resampled (bilinear, edges clamped) onto the source grid.

    Bilinear interpolation is separable: the rows are interpolated first on the small (h, w) map, then the
    columns, the same values as ``scipy.ndimage.map_coordinates(order=1, mode="nearest")`` at a fraction of
    its time on a full-size radiograph."""
    coarse = np.asarray(values, dtype=np.float32)
    rows = _linear_taps((np.arange(prepared.source_shape[0]) + 0.5) * prepared.scale / stride - 0.5, coarse.shape[0])
    cols = _linear_taps((np.arange(prepared.source_shape[1]) + 0.5) * prepared.scale / stride - 0.5, coarse.shape[1])
    by_row = coarse[rows[0]] * (1 - rows[2])[:, None] + coarse[rows[1]] * rows[2][:, None]
    return np.ascontiguousarray(by_row[:, cols[0]] * (1 - cols[2]) + by_row[:, cols[1]] * cols[2])


def _linear_taps(coordinates: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper neighbour indices and the upper weight (float32) of linear interpolation at
    ``coordinates`` on ``n`` samples, coordinates outside clamped to the edge samples."""
    clamped = np.clip(coordinates, 0.0, n - 1.0)
    lower = np.minimum(np.floor(clamped).astype(np.intp), max(n - 2, 0))
    upper = np.minimum(lower + 1, n - 1)
    return lower, upper, (clamped - lower).astype(np.float32)


def decode_peaks(
    heatmap_logits: np.ndarray,
    log_size: np.ndarray,
    offset: np.ndarray,
    prepared: PreparedCxr,
    stride: int,
    max_detections: int = 20,
    min_logit: float = -6.0,
) -> list[Detection]:
    """Local maxima (3x3) of the centre heatmap, strongest first, in source pixels.

    ``heatmap_logits`` (h, w); ``log_size`` (h, w) natural log of the diameter in model pixels;
    ``offset`` (2, h, w) sub-cell (row, col) offset in output cells.
    """
    logits = np.asarray(heatmap_logits, dtype=np.float32)
    padded = np.pad(logits, 1, mode="constant", constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))
    peaks = (logits >= windows.max(axis=(2, 3))) & (logits > min_logit)
    rows, cols = np.nonzero(peaks)
    order = np.argsort(-logits[rows, cols], kind="stable")[:max_detections]
    detections = []
    for r, c in zip(rows[order], cols[order], strict=True):
        model_rc = np.array([(r + offset[0, r, c]) * stride, (c + offset[1, r, c]) * stride]) + (stride - 1) / 2
        source_rc = prepared.to_source(model_rc)
        diameter = float(np.exp(log_size[r, c])) / prepared.scale
        detections.append(Detection(float(source_rc[0]), float(source_rc[1]), diameter, float(logits[r, c])))
    return detections
