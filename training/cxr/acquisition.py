"""Acquisition changes on a rendered radiograph's stored values: fainter nodules and vendor processing.

Shared by the shifted held-out sets (``training.cxr.shifted``) and the training split's acquisition variety
(``training.cxr.variety``), so both change an image the same way.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def vendor_processing(image: np.ndarray, spacing_mm: float, amount: float, gamma: float,
                      sigma_mm: float = 3.0) -> np.ndarray:
    """Unsharp masking then a gamma look-up table, on the 0.5-99.5 percentile range, back to 12 bits."""
    low, high = np.percentile(image, [0.5, 99.5])
    values = np.clip((image - low) / max(float(high - low), 1e-6), 0.0, 1.0)
    values = values + amount * (values - ndimage.gaussian_filter(values, sigma_mm / spacing_mm))
    return (4095.0 * np.clip(values, 0.0, 1.0) ** gamma).astype(np.float32)


def fade_nodule(image: np.ndarray, centre: tuple[float, float], radius_px: float, peak: float,
                spacing_mm: float) -> None:
    """Subtract ``peak`` x the nodule's chord profile (blurred as the generator blurs), in place."""
    row, col = centre
    pad = radius_px + 3 * 0.35 / spacing_mm + 2
    r0, r1 = max(0, int(np.floor(row - pad))), min(image.shape[0], int(np.ceil(row + pad)) + 1)
    c0, c1 = max(0, int(np.floor(col - pad))), min(image.shape[1], int(np.ceil(col + pad)) + 1)
    rr, cc = np.ogrid[r0:r1, c0:c1]
    chord = np.sqrt(np.clip(1.0 - ((rr - row) ** 2 + (cc - col) ** 2) / radius_px**2, 0.0, 1.0))
    image[r0:r1, c0:c1] -= peak * ndimage.gaussian_filter(chord.astype(np.float32), 0.35 / spacing_mm)
