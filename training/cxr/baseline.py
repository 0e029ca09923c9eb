"""Classical baseline: multi-scale Laplacian-of-Gaussian blob detector inside the lung mask (scipy.ndimage).

Scale-normalised response -sigma^2 * LoG (bright blobs positive) over sigmas covering 4-30 mm nodules (by
default), maximum over scales, local maxima (``peak_window`` pixels square) inside the lung fields, strongest
``max_detections`` kept. The score is the raw response; the image-level score is the case's strongest
response. The diameter range and the peak window are tuned on validation (``training.cxr.honest``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def log_blobs(image: np.ndarray, lung_mask: np.ndarray, pixel_mm: float, diameters_mm: tuple[float, float] = (4, 30),
              levels: int = 8, max_detections: int = 20, peak_window: int = 3) -> np.ndarray:
    """(m, 4) rows (row, col, diameter_px, score) of the strongest LoG blobs of ``image``."""
    values = np.asarray(image, dtype=np.float32)
    sigmas = np.geomspace(diameters_mm[0], diameters_mm[1], levels) / pixel_mm / (2 * np.sqrt(2))
    stack = np.stack([-(s**2) * ndimage.gaussian_laplace(values, s) for s in sigmas])
    best, scale = stack.max(axis=0), stack.argmax(axis=0)
    peaks = (best == ndimage.maximum_filter(best, size=peak_window)) & np.asarray(lung_mask, bool) & (best > 0)
    rows, cols = np.nonzero(peaks)
    order = np.argsort(-best[rows, cols], kind="stable")[:max_detections]
    rows, cols = rows[order], cols[order]
    diameters = 2 * np.sqrt(2) * sigmas[scale[rows, cols]]
    return np.stack([rows, cols, diameters, best[rows, cols]], axis=1).astype(np.float64).reshape(-1, 4)
