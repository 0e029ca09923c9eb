"""CenterNet training targets on the stride-4 grid from nodule centres and diameters (model pixels)."""

from __future__ import annotations

import numpy as np
import torch

from training.cxr.model import STRIDE


def cell_coordinates(rows_cols: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """Continuous output-cell coordinates of model-pixel points (cell i covers pixels i*s .. i*s+s-1)."""
    return (np.asarray(rows_cols, dtype=np.float64) - (stride - 1) / 2) / stride


def make_targets(nodules: list[np.ndarray], grid: int, stride: int = STRIDE) -> dict[str, torch.Tensor]:
    """Heat-map (Gaussian per centre, sigma from the diameter), log size, offset, centre mask, image label.

    ``nodules``: per image a (k, 3) array of (row, col, diameter_px) in model pixels.
    """
    batch = len(nodules)
    heat = np.zeros((batch, grid, grid), np.float32)
    log_size = np.zeros((batch, grid, grid), np.float32)
    offset = np.zeros((batch, 2, grid, grid), np.float32)
    mask = np.zeros((batch, grid, grid), np.float32)
    axis = np.arange(grid, dtype=np.float32)
    for b, rows in enumerate(nodules):
        for row, col, diameter in rows:
            cell = cell_coordinates(np.array([row, col]), stride)
            centre = np.round(cell).astype(int)
            if not (0 <= centre[0] < grid and 0 <= centre[1] < grid):
                continue
            sigma = max(0.6, diameter / stride / 4.0)
            bump = np.exp(-((axis[:, None] - centre[0]) ** 2 + (axis[None, :] - centre[1]) ** 2) / (2 * sigma**2))
            heat[b] = np.maximum(heat[b], bump)
            heat[b, centre[0], centre[1]] = 1.0
            log_size[b, centre[0], centre[1]] = np.log(max(diameter, 1.0))
            offset[b, :, centre[0], centre[1]] = cell - centre
            mask[b, centre[0], centre[1]] = 1.0
    label = (mask.reshape(batch, -1).max(axis=1) > 0).astype(np.float32)
    return {"heatmap": torch.from_numpy(heat), "log_size": torch.from_numpy(log_size),
            "offset": torch.from_numpy(offset), "mask": torch.from_numpy(mask), "label": torch.from_numpy(label)}
