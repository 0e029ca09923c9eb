"""Image-level domain features of a calcium-scoring CT (the lesion classifier sees only candidate lesions,
and a calcium-free heart has none, so its own activations cannot describe the scan).

Three groups, each scaled to unit length so that the cosine distance of the runtime's k-NN check weighs
them equally:

- the HU histogram of the body (the filled outline of the voxels above -500 HU, lungs included) over
  -1000..1500 HU in 50 HU bins, as the square roots of the fractions (the cosine of two such vectors is the
  Bhattacharyya coefficient of the histograms): anatomy, field of view, bone, contrast;
- the image noise: the robust standard deviation (1.4826 x median absolute value) of the high-pass (voxel
  minus its 3x3 in-plane mean) in homogeneous soft tissue (smoothed 0..100 HU, low local gradient), in HU,
  soft-binned on a log scale (Gaussian kernels every 0.25 in ln HU from ln 2 to ln 400): reconstruction
  kernel and dose;
- the blood-pool brightness near the heart: the share of the central mediastinal box (middle 40% of the
  body's width, anterior 20-65% of its depth) between 150 and 600 HU among its voxels above -200 HU,
  soft-binned the same way on sqrt scale: iodine contrast lights up the heart and aorta.

numpy + scipy only: the plugin computes it at run time, the training pipeline for the reference.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

HIST_EDGES = np.arange(-1000.0, 1501.0, 50.0)
NOISE_CENTRES = np.arange(np.log(2.0), np.log(400.0) + 1e-9, 0.25)
NOISE_WIDTH = 0.25
BLOOD_CENTRES = np.linspace(0.0, 1.0, 21)
BLOOD_WIDTH = 0.05
MAX_VOXELS = 4_000_000  # slices are subsampled along z above this (speed; the statistics barely move)


def ct_domain_features(hu: np.ndarray) -> np.ndarray:
    """The feature vector (float32) of an axial CT ``hu`` (z, y, x) in Hounsfield units."""
    volume = np.asarray(hu)
    if volume.ndim != 3:
        raise ValueError(f"needs a (z, y, x) CT volume, got shape {volume.shape}")
    step = max(1, int(np.ceil(volume.size / MAX_VOXELS)))
    volume = volume[::step].astype(np.float32)
    body = body_mask(volume)
    histogram = np.histogram(np.clip(volume[body], HIST_EDGES[0], HIST_EDGES[-1]), HIST_EDGES)[0].astype(np.float64)
    histogram = np.sqrt(histogram / max(histogram.sum(), 1.0))
    noise = _soft_bins(np.log(max(noise_hu(volume, body), 1e-3)), NOISE_CENTRES, NOISE_WIDTH)
    blood = _soft_bins(np.sqrt(blood_pool_fraction(volume, body)), BLOOD_CENTRES, BLOOD_WIDTH)
    return np.concatenate([histogram, noise, blood]).astype(np.float32)


def body_mask(volume: np.ndarray) -> np.ndarray:
    """Per slice: the holes-filled largest component of the voxels above -500 HU."""
    mask = np.zeros(volume.shape, dtype=bool)
    for index, plane in enumerate(volume):
        labels, count = ndimage.label(plane > -500)
        if count == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        mask[index] = ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))
    return mask


def noise_hu(volume: np.ndarray, body: np.ndarray) -> float:
    """Robust noise standard deviation (HU) of the in-plane high-pass in homogeneous soft tissue."""
    smooth = ndimage.uniform_filter(volume, size=(1, 3, 3))
    high = volume - smooth
    wide = ndimage.uniform_filter(volume, size=(1, 7, 7))
    flat = np.abs(ndimage.uniform_filter(smooth, size=(1, 5, 5)) - wide) < 15.0
    soft = body & (wide > 0) & (wide < 100) & flat
    if soft.sum() < 100:
        soft = body
    if not soft.any():
        return 0.0
    return float(1.4826 * np.median(np.abs(high[soft])) / np.sqrt(8.0 / 9.0))  # white noise: std x sqrt(8/9)


def blood_pool_fraction(volume: np.ndarray, body: np.ndarray) -> float:
    """Share of 150-600 HU among the > -200 HU voxels of the central mediastinal box of the body."""
    rows, cols = np.nonzero(body.any(axis=0))
    if rows.size == 0:
        return 0.0
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    depth, width = bottom - top, right - left
    box = volume[:, top + int(0.20 * depth): top + int(0.65 * depth),
                 left + int(0.30 * width): left + int(0.70 * width)]
    tissue = box > -200
    if not tissue.any():
        return 0.0
    return float(np.mean((box[tissue] >= 150) & (box[tissue] <= 600)))


def _soft_bins(value: float, centres: np.ndarray, width: float) -> np.ndarray:
    weights = np.exp(-0.5 * ((centres - value) / width) ** 2)
    return weights / max(float(np.linalg.norm(weights)), 1e-12)
