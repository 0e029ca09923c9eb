"""Sliding-window inference for images larger than a model's input, with Gaussian blending.

Tiles overlap by a configurable fraction; each tile's prediction is weighted by a Gaussian importance map
(centre trusted more than the borders, as in MONAI / nnU-Net) and the weighted sum is normalised, so the
seams between tiles disappear. Cancellation is checked between batches of tiles.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from engine.progress import CancelToken, ProgressCallback, report

# predictor(batch of tiles (b, channels, *window)) -> (b, out_channels, *window)
TilePredictor = Callable[[np.ndarray], np.ndarray]


def gaussian_importance(window: Sequence[int], sigma_scale: float = 0.125, floor: float = 1e-3) -> np.ndarray:
    """Float32 Gaussian weights over ``window`` (sigma = ``sigma_scale`` * size per axis), peak 1, never
    below ``floor`` so that image borders covered by one tile still get a prediction."""
    axes = []
    for size in window:
        centre, sigma = (size - 1) / 2.0, max(sigma_scale * size, 1e-6)
        axes.append(np.exp(-0.5 * ((np.arange(size) - centre) / sigma) ** 2))
    weights = axes[0]
    for axis in axes[1:]:
        weights = np.multiply.outer(weights, axis)
    weights = weights / weights.max()
    return np.maximum(weights, floor).astype(np.float32)


def tile_starts(size: int, window: int, overlap: float) -> list[int]:
    """Start indices along one axis: step ``window * (1 - overlap)``, the last tile flush with the end."""
    if size <= window:
        return [0]
    step = max(1, int(round(window * (1.0 - overlap))))
    starts = list(range(0, size - window + 1, step))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def sliding_window(
    image: np.ndarray,
    window: Sequence[int],
    predictor: TilePredictor,
    overlap: float = 0.25,
    batch_size: int = 1,
    sigma_scale: float = 0.125,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Predict ``image`` (channels, *spatial), 2D or 3D, tile by tile -> float32 (out_channels, *spatial).

    Axes shorter than the window are zero-padded at the end and cropped back afterwards.
    """
    spatial = image.shape[1:]
    if len(window) != len(spatial):
        raise ValueError(f"window {tuple(window)} does not match the image's spatial shape {spatial}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    padded_shape = tuple(max(s, w) for s, w in zip(spatial, window, strict=True))
    if padded_shape != spatial:
        pad = [(0, 0)] + [(0, p - s) for p, s in zip(padded_shape, spatial, strict=True)]
        image = np.pad(image, pad)
    weights = gaussian_importance(window, sigma_scale)
    starts = [tile_starts(s, w, overlap) for s, w in zip(padded_shape, window, strict=True)]
    corners = list(itertools.product(*starts))
    output: np.ndarray | None = None
    weight_sum = np.zeros(padded_shape, dtype=np.float32)
    total = len(corners)
    for first in range(0, total, batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        batch = corners[first : first + batch_size]
        slices = [tuple(slice(c, c + w) for c, w in zip(corner, window, strict=True)) for corner in batch]
        tiles = np.stack([image[(slice(None), *region)] for region in slices])
        predictions = np.asarray(predictor(tiles), dtype=np.float32)
        if predictions.shape[0] != len(slices) or predictions.shape[2:] != tuple(window):
            raise ValueError(f"predictor returned shape {predictions.shape} for tiles of shape {tiles.shape}")
        if output is None:
            output = np.zeros((predictions.shape[1], *padded_shape), dtype=np.float32)
        for region, prediction in zip(slices, predictions, strict=True):
            output[(slice(None), *region)] += prediction * weights
            weight_sum[region] += weights
        report(progress, min(first + batch_size, total), total, "tiles")
    assert output is not None
    output /= weight_sum
    return output[(slice(None), *(slice(0, s) for s in spatial))]


def run_batched(
    items: np.ndarray,
    predictor: Callable[[np.ndarray], np.ndarray],
    batch_size: int,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """``predictor`` over ``items`` (n, ...) in batches, checking ``cancel`` between batches; concatenated."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    outputs = []
    for first in range(0, len(items), batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        outputs.append(np.asarray(predictor(items[first : first + batch_size])))
        report(progress, min(first + batch_size, len(items)), len(items), "batches")
    return np.concatenate(outputs) if outputs else np.empty((0,))

