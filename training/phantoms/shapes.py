"""Shared building blocks for the phantoms: coordinate grids, ellipsoids, smooth noise, bias fields, noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry


def axial_grid(geometry: Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open-grid LPS millimetre coordinates (z, y, x), broadcastable to the array, of an axis-aligned grid."""
    if not np.allclose(geometry.direction, np.eye(3)):
        raise ValueError("axial_grid needs an identity direction (axial LPS grid)")
    nz, ny, nx = geometry.shape
    sx, sy, sz = geometry.spacing
    ox, oy, oz = geometry.origin
    z = (oz + sz * np.arange(nz, dtype=np.float32)).reshape(nz, 1, 1)
    y = (oy + sy * np.arange(ny, dtype=np.float32)).reshape(1, ny, 1)
    x = (ox + sx * np.arange(nx, dtype=np.float32)).reshape(1, 1, nx)
    return z, y, x


def centred_axial_geometry(shape: tuple[int, int, int], spacing: tuple[float, float, float],
                           centre: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Geometry:
    """Axial LPS grid (identity direction) whose centre voxel lies at ``centre`` (x, y, z) mm."""
    nz, ny, nx = shape
    size = np.array([nx - 1, ny - 1, nz - 1], dtype=float) * np.asarray(spacing)
    origin = tuple(float(v) for v in np.asarray(centre) - size / 2)
    return Geometry(shape=shape, spacing=spacing, origin=origin)


def rotation(rng: np.random.Generator, max_degrees: float) -> np.ndarray:
    """A random 3x3 rotation (about z, then y, then x) of at most ``max_degrees`` per axis."""
    a, b, c = np.deg2rad(rng.uniform(-max_degrees, max_degrees, size=3))
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rz @ ry @ rx


def ellipsoid_r2(grid: tuple[np.ndarray, ...], centre: tuple[float, float, float],
                 radii: tuple[float, float, float], rot: np.ndarray | None = None) -> np.ndarray:
    """Normalised squared radius (< 1 inside) of an ellipsoid; ``centre``/``radii`` in (x, y, z) mm.

    ``grid`` is (z, y, x) open coordinates; ``rot`` maps the ellipsoid's own axes to LPS (columns).
    """
    z, y, x = grid
    dx, dy, dz = x - np.float32(centre[0]), y - np.float32(centre[1]), z - np.float32(centre[2])
    if rot is None:
        return (dx / radii[0]) ** 2 + (dy / radii[1]) ** 2 + (dz / radii[2]) ** 2
    r = np.asarray(rot, dtype=np.float32)
    total = None
    for axis in range(3):
        u = (r[0, axis] * dx + r[1, axis] * dy + r[2, axis] * dz) / np.float32(radii[axis])
        total = u * u if total is None else total + u * u
    return total


def _child(rng: np.random.Generator) -> np.random.Generator:
    """A generator seeded by one draw of ``rng``: size-dependent sampling then leaves ``rng``'s stream (and so
    the anatomy drawn after it) the same at every image size."""
    return np.random.default_rng(int(rng.integers(2**63)))


def white_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal noise (float32), consuming one draw of ``rng`` whatever the shape."""
    return _child(rng).standard_normal(shape, dtype=np.float32)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], cell: float) -> np.ndarray:
    """Zero-mean, unit-std correlated noise (float32) with a correlation length of about ``cell`` voxels."""
    coarse = tuple(max(2, int(np.ceil(n / cell)) + 1) for n in shape)
    field = ndimage.gaussian_filter(white_noise(rng, coarse), 0.7)
    zoomed = ndimage.zoom(field, [n / c for n, c in zip(shape, coarse, strict=True)], order=1, grid_mode=True,
                          mode="nearest")
    zoomed = zoomed[tuple(slice(0, n) for n in shape)]
    zoomed -= zoomed.mean()
    return zoomed / max(float(zoomed.std()), 1e-6)


def bias_field(rng: np.random.Generator, shape: tuple[int, ...], strength: float) -> np.ndarray:
    """Smooth multiplicative field near 1 (separable low-order polynomial in the log), float32."""
    result = np.ones((1,) * len(shape), dtype=np.float32)
    for axis, n in enumerate(shape):
        u = np.linspace(-1.0, 1.0, n, dtype=np.float32)
        linear, quadratic = rng.uniform(-1.0, 1.0, size=2)
        profile = np.exp(strength * (linear * u + 0.6 * quadratic * (u * u - 1 / 3))).astype(np.float32)
        result = result * profile.reshape([n if i == axis else 1 for i in range(len(shape))])
    return result


def rician(rng: np.random.Generator, signal: np.ndarray, sigma: float) -> np.ndarray:
    """Magnitude of complex Gaussian noise added to ``signal`` (MR magnitude images), float32."""
    child = _child(rng)
    real = signal + child.standard_normal(signal.shape, dtype=np.float32) * np.float32(sigma)
    imag = child.standard_normal(signal.shape, dtype=np.float32) * np.float32(sigma)
    return np.sqrt(real * real + imag * imag)
