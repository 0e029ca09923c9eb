"""The numerical steps of a declared pipeline, vectorised with numpy/scipy and faithful to nnU-Net v2.

Resampling follows nnU-Net's ``resample_data_or_seg`` (itself skimage ``resize`` with ``mode='edge'``, no
anti-aliasing, output clipped to the input range): a spline of ``order`` through ``scipy.ndimage.zoom``
with grid-mode coordinates; when one axis is much coarser than the others it is resampled on its own with
``order_z`` (nearest by default), in-plane values clipped per slice as skimage does per 2D call. Cropping,
normalisation and the sliding window (tile steps, Gaussian importance map, padding, mirroring) follow
nnU-Net's preprocessing and ``nnUNetPredictor``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from engine.ai.pipeline.schema import Normalization
from engine.progress import CancelToken

Predictor = Callable[[np.ndarray], np.ndarray]  # (B, C, *patch) float32 -> (B, K, *patch) logits


def new_shape(shape: Sequence[int], spacing: Sequence[float], target: Sequence[float]) -> tuple[int, ...]:
    """nnU-Net's ``compute_new_shape``: round(size * spacing / target spacing) per axis."""
    return tuple(int(round(s / t * n)) for s, t, n in zip(spacing, target, shape, strict=True))


def separate_axis(current: Sequence[float], target: Sequence[float], mode: str, threshold: float) -> int | None:
    """The low-resolution axis resampled on its own, or None (nnU-Net's ``determine_do_sep_z_and_axis``)."""
    if mode == "never":
        return None

    def lowres(spacing: Sequence[float]) -> list[int]:
        return [i for i, s in enumerate(spacing) if max(spacing) / s == 1]

    if mode == "always":
        axes = lowres(current)
    elif max(current) / min(current) > threshold:
        axes = lowres(current)
    elif max(target) / min(target) > threshold:
        axes = lowres(target)
    else:
        return None
    return axes[0] if len(axes) == 1 else None


def resize(data: np.ndarray, shape: Sequence[int], order: int, axis: int | None = None, order_z: int = 0,
           out_dtype: np.dtype | type | None = None) -> np.ndarray:
    """Resize every channel of ``data`` (C, z, y, x) to ``shape``; ``axis`` resampled separately."""
    shape = tuple(int(n) for n in shape)
    out_dtype = out_dtype or data.dtype
    if tuple(data.shape[1:]) == shape:
        return data.astype(out_dtype, copy=False)
    out = np.empty((data.shape[0], *shape), dtype=out_dtype)
    for c in range(data.shape[0]):
        channel = data[c].astype(np.float64, copy=False)
        if axis is None:
            out[c] = _skimage_resize(channel, shape, order, per_axis=None)
            continue
        inplane = list(shape)
        inplane[axis] = channel.shape[axis]
        resized = _skimage_resize(channel, inplane, order, per_axis=axis)
        if resized.shape[axis] != shape[axis]:
            factors = [1.0, 1.0, 1.0]
            factors[axis] = shape[axis] / resized.shape[axis]
            resized = ndimage.zoom(resized, factors, order=order_z, mode="nearest", grid_mode=True)
        out[c] = resized
    return out


def _skimage_resize(image: np.ndarray, shape: Sequence[int], order: int, per_axis: int | None) -> np.ndarray:
    """skimage ``resize(image, shape, order, mode='edge', anti_aliasing=False)``; with ``per_axis`` the
    slices along that axis are resized (and clipped) one by one, as nnU-Net's per-slice calls do."""
    if tuple(image.shape) == tuple(shape):
        return image
    factors = [n / m for n, m in zip(shape, image.shape, strict=True)]
    out = ndimage.zoom(image, factors, order=order, mode="nearest", grid_mode=True)
    if order == 0:
        return out
    if per_axis is None:
        return np.clip(out, image.min(), image.max(), out=out)
    others = tuple(a for a in range(3) if a != per_axis)
    return np.clip(out, image.min(axis=others, keepdims=True), image.max(axis=others, keepdims=True), out=out)


def corner_shape(shape: Sequence[int], spacing: Sequence[float], target: Sequence[float]) -> tuple[int, ...]:
    """MONAI ``compute_shape_offset`` for a pure rescaling: round((size - 1) * spacing / target + 1)."""
    return tuple(int(np.round((n - 1) * s / t + 1.0)) for n, s, t in zip(shape, spacing, target, strict=True))


def resize_corners(data: np.ndarray, shape: Sequence[int], step: Sequence[float], order: int,
                   centred: bool = False) -> np.ndarray:
    """Every channel resampled onto ``shape`` voxels whose index i lies at source index i * step (first voxel
    centres aligned; ``centred``: the grids' centres size / 2 aligned instead), values beyond the edge repeated:
    MONAI ``Spacing`` and its inverse, bilinear for order 1."""
    matrix = np.asarray(step, float)
    offset = (np.asarray(data.shape[1:]) / 2.0 - matrix * np.asarray(shape) / 2.0) if centred else 0.0
    out = np.empty((data.shape[0], *shape), np.float32)
    for c in range(data.shape[0]):
        out[c] = ndimage.affine_transform(data[c].astype(np.float64, copy=False), matrix, offset,
                                          output_shape=tuple(shape), order=order, mode="nearest")
    return out


def foreground_box(data: np.ndarray) -> tuple[tuple[slice, ...], np.ndarray]:
    """nnU-Net's ``crop_to_nonzero``: the box of voxels non-zero in any channel (holes filled) and the mask
    inside it. An all-zero image keeps its full extent."""
    mask = ndimage.binary_fill_holes(np.any(data != 0, axis=0))
    if not mask.any():
        return tuple(slice(0, n) for n in mask.shape), np.zeros(mask.shape, bool)
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=others))
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    slices = tuple(box)
    return slices, mask[slices]


def normalize(channel: np.ndarray, rule: Normalization | None, mask: np.ndarray | None) -> np.ndarray:
    """One channel normalised in float32 by ``rule`` (nnU-Net's schemes, MONAI's ScaleIntensityRange)."""
    image = channel.astype(np.float32, copy=True)
    if rule is None or rule.scheme == "none":
        return image
    if rule.scheme == "ct":
        assert rule.lower is not None and rule.upper is not None
        np.clip(image, rule.lower, rule.upper, out=image)
        image -= np.float32(rule.mean)
        image /= np.float32(max(rule.sd, 1e-8))
        return image
    if rule.scheme == "zscore":
        if rule.use_mask and mask is not None:
            inside = image[mask]
            mean, sd = inside.mean(), inside.std()
            image[mask] = (inside - mean) / max(float(sd), 1e-8)
            return image
        mean, sd = image.mean(), image.std()
        image -= mean
        image /= max(float(sd), 1e-8)
        return image
    if rule.scheme == "rescale01":
        image -= image.min()
        image /= max(float(image.max()), 1e-8)
        return image
    a_min, a_max, b_min, b_max, clip = rule.clip
    image = (image - np.float32(a_min)) / np.float32(a_max - a_min) * np.float32(b_max - b_min) + np.float32(b_min)
    if clip:
        np.clip(image, min(b_min, b_max), max(b_min, b_max), out=image)
    return image.astype(np.float32, copy=False)


def gaussian_importance(patch: Sequence[int], sigma_scale: float = 0.125) -> np.ndarray:
    """nnU-Net's ``compute_gaussian``: a centred Gaussian (sigma = patch * scale) scaled to a maximum of 10
    and stored in float16, whose zeros (the far corners underflow) take the smallest non-zero value; this
    quantisation decides how the tile corners blend at the image border, so it is kept exactly."""
    impulse = np.zeros(tuple(patch))
    impulse[tuple(n // 2 for n in patch)] = 1
    weights = ndimage.gaussian_filter(impulse, [n * sigma_scale for n in patch], 0, mode="constant", cval=0)
    weights /= weights.max() / 10
    half = weights.astype(np.float16)
    half[half == 0] = half[half != 0].min()
    return half.astype(np.float32)


def monai_importance(patch: Sequence[int], sigma_scale: float = 0.125) -> np.ndarray:
    """MONAI ``compute_importance_map(mode='gaussian')``: separable Gaussian centred at (patch - 1) / 2,
    clamped below at max(min, 1e-3)."""
    weights = np.ones((), np.float32)
    for n in patch:
        x = np.arange(-(n - 1) / 2.0, (n - 1) / 2.0 + 1, dtype=np.float32)
        g = np.exp(x**2 / np.float32(-2 * (n * sigma_scale) ** 2)).astype(np.float32)
        weights = weights[..., None] * g
    return np.maximum(weights, max(float(weights.min()), 1e-3)).astype(np.float32)


def monai_tile_starts(size: Sequence[int], patch: Sequence[int], overlap: float) -> list[list[int]]:
    """MONAI ``_get_scan_interval`` + ``dense_patch_slices``: interval int(patch * (1 - overlap)), the last
    tile moved back to end at the border."""
    starts = []
    for n, p in zip(size, patch, strict=True):
        interval = p if p == n else max(1, int(p * (1 - overlap)))
        count = next((d for d in range(int(np.ceil(n / interval))) if d * interval + p >= n), 0) + 1
        starts.append([i * interval - max(i * interval + p - n, 0) for i in range(count)])
    return starts


def tile_starts(size: Sequence[int], patch: Sequence[int], step: float) -> list[list[int]]:
    """nnU-Net's ``compute_steps_for_sliding_window`` (``step`` = tile_step_size = 1 - overlap)."""
    starts = []
    for n, p in zip(size, patch, strict=True):
        count = int(np.ceil((n - p) / (p * step))) + 1
        stride = (n - p) / (count - 1) if count > 1 else 0.0
        starts.append([int(np.round(stride * i)) for i in range(count)])
    return starts


def sliding_window(data: np.ndarray, patch: Sequence[int], predictor: Predictor, *, overlap: float = 0.5,
                   gaussian: bool = True, sigma_scale: float = 0.125, mirror_axes: Sequence[int] = (),
                   pad_value: float = 0.0, accumulate: str = "float32", tiling: str = "nnunet",
                   cancel: CancelToken | None = None,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Logits (K, z, y, x) of ``data`` (C, z, y, x): padded (centred) to at least the patch, tiled with
    ``overlap``, each tile predicted (averaged over every combination of mirrored ``mirror_axes``, in one
    batch) and blended with the Gaussian importance map, as nnU-Net predicts.

    ``accumulate="float16"`` sums the weighted logits and the weights in float16 exactly as
    ``nnUNetPredictor`` does (on CPU and GPU); where only tile corners cover a voxel (the image's corners)
    the tiny weights then quantise the logits, and only this mode reproduces nnU-Net's output there."""
    patch = tuple(int(p) for p in patch)
    size = np.array(data.shape[1:])
    padded_size = np.maximum(size, patch)
    below = (padded_size - size) // 2
    if np.any(padded_size != size):
        pads = [(0, 0)] + [(int(b), int(p - s - b)) for b, p, s in zip(below, padded_size, size, strict=True)]
        data = np.pad(data, pads, mode="constant", constant_values=pad_value)
    data = data.astype(np.float32, copy=False)
    monai = tiling == "monai"
    if not gaussian:
        weights = np.ones(patch, np.float32)
    else:
        weights = monai_importance(patch, sigma_scale) if monai else gaussian_importance(patch, sigma_scale)
    flips = [c for i in range(len(mirror_axes)) for c in itertools.combinations([a + 2 for a in mirror_axes], i + 1)]
    grid = (monai_tile_starts(data.shape[1:], patch, overlap) if monai
            else tile_starts(data.shape[1:], patch, 1.0 - overlap))
    starts = list(itertools.product(*grid))
    half = accumulate == "float16"
    store = np.float16 if half else np.float32
    if half:
        weights = weights.astype(np.float16)
    logits: np.ndarray | None = None
    total = np.zeros(data.shape[1:], store)
    for i, start in enumerate(starts):
        if cancel is not None:
            cancel.raise_if_cancelled()
        window = tuple(slice(s, s + p) for s, p in zip(start, patch, strict=True))
        tile = data[(slice(None), *window)][None]
        batch = np.concatenate([tile] + [np.flip(tile, axes) for axes in flips]) if flips else tile
        predicted = np.asarray(predictor(np.ascontiguousarray(batch)), dtype=np.float32)
        prediction = predicted[0].copy()
        for k, axes in enumerate(flips):
            prediction += np.flip(predicted[k + 1][None], axes)[0]
        prediction /= len(flips) + 1
        if logits is None:
            logits = np.zeros((prediction.shape[0], *data.shape[1:]), store)
        region = (slice(None), *window)
        if half:
            logits[region] = (logits[region].astype(np.float32) + prediction * weights.astype(np.float32)).astype(
                np.float16)
        else:
            logits[region] += prediction * weights
        total[window] += weights
        if progress is not None:
            progress(i + 1, len(starts))
    assert logits is not None
    logits = (logits / total).astype(np.float32)
    unpad = tuple(slice(int(b), int(b + s)) for b, s in zip(below, size, strict=True))
    return logits[(slice(None), *unpad)]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax over axis 0 of ``logits / temperature`` (float32, numerically stable)."""
    scaled = logits / np.float32(temperature) if temperature != 1.0 else logits
    shifted = np.exp(scaled - scaled.max(axis=0, keepdims=True))
    return (shifted / shifted.sum(axis=0, keepdims=True)).astype(np.float32, copy=False)


def sigmoid(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-logits / np.float32(temperature)))).astype(np.float32, copy=False)


def keep_largest_component(labels: np.ndarray, value: int) -> None:
    """In place: voxels of ``value`` outside its largest 26-connected component become background."""
    components, count = ndimage.label(labels == value, structure=np.ones((3, 3, 3), bool))
    if count > 1:
        sizes = np.bincount(components.ravel())
        sizes[0] = 0
        labels[(components != 0) & (components != int(np.argmax(sizes)))] = 0


def fill_holes(labels: np.ndarray, value: int) -> None:
    """In place: background voxels enclosed by ``value`` take ``value``."""
    filled = ndimage.binary_fill_holes(labels == value)
    labels[filled & (labels == 0)] = value
