"""Anatomically valid augmentation: small affine (scale, rotation, shift), intensity, blur and noise.

No flips: a mirrored chest film swaps the patient's sides (heart on the wrong side), which real films
never show, and the plugin reports the side.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def augment(images: torch.Tensor, nodules: list[np.ndarray], rng: np.random.Generator,
            max_shift: float = 0.05, scale_range: float = 0.08, max_degrees: float = 5.0
            ) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Augment a batch (B, 1, S, S) and move its nodules ((k, 3) row, col, diameter_px) along with it."""
    batch, _, size, _ = images.shape
    thetas, moved = [], []
    centre = (size - 1) / 2
    for b in range(batch):
        scale = float(np.exp(rng.uniform(-scale_range, scale_range)))
        angle = math.radians(rng.uniform(-max_degrees, max_degrees))
        shift = rng.uniform(-max_shift, max_shift, 2) * size  # (row, col) pixels
        rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        forward = scale * rotation  # acts on (x=col, y=row) offsets from the centre
        inverse = np.linalg.inv(forward)
        translation = -inverse @ (shift[::-1] / ((size - 1) / 2))
        thetas.append(np.hstack([inverse, translation[:, None]]))
        rows = nodules[b]
        if len(rows):
            xy = np.stack([rows[:, 1] - centre, rows[:, 0] - centre], axis=1) @ forward.T + shift[::-1]
            out = np.stack([xy[:, 1] + centre, xy[:, 0] + centre, rows[:, 2] * scale], axis=1)
            inside = (out[:, :2] >= 0).all(axis=1) & (out[:, :2] <= size - 1).all(axis=1)
            rows = out[inside]
        moved.append(rows)
    theta = torch.tensor(np.stack(thetas), dtype=images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return _intensity(warped, rng), moved


def _intensity(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    batch = images.shape[0]
    contrast = torch.tensor(rng.uniform(0.85, 1.15, batch), dtype=images.dtype).view(-1, 1, 1, 1)
    brightness = torch.tensor(rng.uniform(-0.08, 0.08, batch), dtype=images.dtype).view(-1, 1, 1, 1)
    gamma = torch.tensor(np.exp(rng.uniform(-0.2, 0.2, batch)), dtype=images.dtype).view(-1, 1, 1, 1)
    out = torch.sign(images) * images.abs() ** gamma * contrast + brightness
    if rng.random() < 0.3:
        kernel = torch.tensor([0.25, 0.5, 0.25], dtype=images.dtype)
        kernel2d = (kernel[:, None] * kernel[None, :]).view(1, 1, 3, 3)
        out = F.conv2d(F.pad(out, (1, 1, 1, 1), mode="replicate"), kernel2d)
    noise = torch.from_numpy(rng.standard_normal(out.shape).astype(np.float32)).to(out.dtype)
    sd = torch.tensor(rng.uniform(0.0, 0.03, batch), dtype=images.dtype).view(-1, 1, 1, 1)
    return out + noise * sd


def random_crops(images: np.ndarray, nodules: list[np.ndarray], crop: int, rng: np.random.Generator,
                 nodule_fraction: float = 0.7) -> tuple[np.ndarray, list[np.ndarray]]:
    """Square crops (B, crop, crop) of model-grid images; with probability ``nodule_fraction`` a crop is
    placed (at a random offset) around one of the case's nodules, else anywhere. Nodules move with it."""
    size = images.shape[-1]
    out = np.empty((len(images), crop, crop), np.float32)
    moved = []
    for b, (image, rows) in enumerate(zip(images, nodules, strict=True)):
        if len(rows) and rng.random() < nodule_fraction:
            row, col = rows[rng.integers(len(rows)), :2]
            margin = crop // 8
            top = int(np.clip(row - rng.uniform(margin, crop - margin), 0, size - crop))
            left = int(np.clip(col - rng.uniform(margin, crop - margin), 0, size - crop))
        else:
            top, left = (int(v) for v in rng.integers(0, size - crop + 1, 2))
        out[b] = image[top:top + crop, left:left + crop]
        shifted = rows - np.array([top, left, 0.0]) if len(rows) else rows
        inside = (shifted[:, :2] >= 0).all(axis=1) & (shifted[:, :2] <= crop - 1).all(axis=1) if len(rows) else []
        moved.append(shifted[inside] if len(rows) else rows)
    return out, moved
