"""Overlay blending in integer maths on RGB32 pixels: each overlay pixel is an index into per-layer tables.

Red and blue are blended together in one uint32 (``0x00RR00BB`` times a 0..256 weight stays below 2**32
and the two products cannot carry into each other), green on its own: two multiply-adds per pixel, no floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.render.frame import OPAQUE

ALPHA_ONE = 256  # weights are 0..256; blending divides by 256 with a shift
_RED_BLUE = np.uint32(0x00FF00FF)
_GREEN = np.uint32(0x0000FF00)


def alpha_of(opacity: float) -> int:
    """A 0..1 opacity as a 0..256 integer weight."""
    return int(round(min(max(opacity, 0.0), 1.0) * ALPHA_ONE))


@dataclass(frozen=True)
class BlendTables:
    """Per index: the weight kept of the pixel below, and the colour's red|blue and green times its alpha."""

    keep: np.ndarray  # (n,) uint32, 256 - alpha
    red_blue: np.ndarray  # (n,) uint32
    green: np.ndarray  # (n,) uint32

    @classmethod
    def from_colors(cls, colors: np.ndarray, alpha: np.ndarray) -> BlendTables:
        """Tables for (n, 3) uint8 RGB ``colors`` drawn with (n,) 0..256 integer ``alpha``."""
        rgb = colors.astype(np.uint32)
        packed = rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]
        weight = np.asarray(alpha, np.uint32)
        return cls(np.uint32(ALPHA_ONE) - weight, (packed & _RED_BLUE) * weight, (packed & _GREEN) * weight)


def blend_indexed(pixels: np.ndarray, index: np.ndarray, tables: BlendTables) -> None:
    """In place on (h, w) RGB32 ``pixels``: ``pixel = (pixel * keep + colour * alpha) >> 8`` looked up by the
    (h, w) ``index`` (uint8 / uint16 label values or colormap codes)."""
    keep = np.take(tables.keep, index)
    red_blue = pixels & _RED_BLUE
    red_blue *= keep
    red_blue += np.take(tables.red_blue, index)
    red_blue >>= 8
    red_blue &= _RED_BLUE
    green = pixels & _GREEN
    green *= keep
    green += np.take(tables.green, index)
    green >>= 8
    green &= _GREEN
    np.bitwise_or(red_blue, green, out=pixels)
    pixels |= OPAQUE
