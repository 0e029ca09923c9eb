"""Window / level straight into RGB32 pixels: 16-bit images go through one 65536-entry packed-grey table."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from app.render.frame import OPAQUE
from engine.window_level import Window, apply_window, window_lut

_GREY_TO_RGB32 = np.uint32(0x010101)


def window_into(values: np.ndarray, window: Window, invert: bool, out: np.ndarray) -> None:
    """Write the windowed grey levels of ``values`` as opaque RGB32 into ``out`` (same shape, uint32)."""
    if values.dtype in (np.int16, np.uint16):
        table = packed_window_lut(window, values.dtype.str, invert)
        np.take(table, values.view(np.uint16), out=out, mode="clip")  # 'clip' takes without a buffer copy
        return
    grey = apply_window(values, window, invert)
    np.multiply(grey, _GREY_TO_RGB32, out=out, dtype=np.uint32)
    out |= OPAQUE


@lru_cache(maxsize=8)
def packed_window_lut(window: Window, dtype: str, invert: bool = False) -> np.ndarray:
    """The engine's 16-bit window table with each grey level packed as 0xFFgggggg."""
    return window_lut(window, dtype, invert).astype(np.uint32) * _GREY_TO_RGB32 | OPAQUE
