"""The pixels of one rendered view: a (height, width) uint32 buffer in Qt's RGB32 layout (0xFFRRGGBB),
kept from frame to frame, with an (height, width, 3) RGB view of the same memory that overlays blend into."""

from __future__ import annotations

import sys

import numpy as np

OPAQUE = np.uint32(0xFF000000)
# Byte positions of red, green, blue inside a native uint32 0xFFRRGGBB (little endian: B, G, R, A).
_RGB_BYTES = slice(2, None, -1) if sys.byteorder == "little" else slice(1, 4)


class Frame:
    """A reusable RGB32 pixel buffer; ``resize`` reallocates only when the view size changes."""

    def __init__(self) -> None:
        self.pixels = np.zeros((0, 0), np.uint32)
        self.rgb = self.pixels.view(np.uint8).reshape(0, 0, 4)[..., _RGB_BYTES]

    def resize(self, width: int, height: int) -> None:
        if self.pixels.shape != (height, width):
            self.pixels = np.zeros((height, width), np.uint32)
            self.rgb = self.pixels.view(np.uint8).reshape(height, width, 4)[..., _RGB_BYTES]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]
