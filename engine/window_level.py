"""Window / level: the mapping of stored values (HU for CT) to display grey levels, and its defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

MIN_WIDTH = 1.0
_SAMPLE_SIZE = 1_000_000  # voxels looked at for the percentile window


@dataclass(frozen=True)
class Window:
    """A display window: ``width`` values around ``center`` map onto black..white."""

    width: float
    center: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", max(float(self.width), MIN_WIDTH))
        object.__setattr__(self, "center", float(self.center))

    @property
    def low(self) -> float:
        return self.center - self.width / 2

    @property
    def high(self) -> float:
        return self.center + self.width / 2

    def dragged(self, d_width: float, d_center: float) -> Window:
        """The window after a mouse drag changed width and centre by the given amounts."""
        return Window(self.width + d_width, self.center + d_center)


def header_window(meta: Mapping[str, Any]) -> Window | None:
    """The header's first window: ``meta["window"]`` = (centre, width) as the loader stores it, or the
    WindowWidth / WindowCenter keywords (possibly multi-valued)."""
    pair = meta.get("window")
    if pair is not None and len(pair) == 2 and pair[1] and float(pair[1]) > 0:
        return Window(float(pair[1]), float(pair[0]))
    width = _first_number(meta.get("WindowWidth", meta.get("window_width")))
    center = _first_number(meta.get("WindowCenter", meta.get("window_center")))
    if width is None or center is None or width <= 0:
        return None
    return Window(width, center)


def percentile_window(array: np.ndarray, low: float = 0.5, high: float = 99.5) -> Window:
    """The window spanning the ``low``..``high`` percentiles of the values (a sample of large arrays)."""
    values = np.asarray(array).ravel()
    if values.size > _SAMPLE_SIZE:
        values = values[:: values.size // _SAMPLE_SIZE]
    values = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if values.size == 0:
        return Window(1.0, 0.0)
    lo, hi = np.percentile(values, [low, high])
    return Window(max(float(hi - lo), MIN_WIDTH), float(lo + hi) / 2)


def default_window(array: np.ndarray, meta: Mapping[str, Any]) -> Window:
    """ARCHITECTURE §6: the header's window, else the 0.5–99.5 percentile window."""
    return header_window(meta) or percentile_window(array)


def apply_window(values: np.ndarray, window: Window, invert: bool = False) -> np.ndarray:
    """Grey levels (uint8) of ``values`` under ``window``; 16-bit integers go through a lookup table."""
    if values.dtype in (np.int16, np.uint16):
        return np.take(window_lut(window, values.dtype.str, invert), values.view(np.uint16))
    scaled = (np.asarray(values, dtype=np.float32) - window.low) * (255.0 / window.width)
    grey = np.clip(scaled, 0, 255).astype(np.uint8)
    return 255 - grey if invert else grey


@lru_cache(maxsize=8)
def window_lut(window: Window, dtype: str, invert: bool = False) -> np.ndarray:
    """A 65536-entry table from the uint16 bit pattern of ``dtype`` (e.g. '<i2') values to grey levels."""
    codes = np.arange(65536, dtype=np.uint16).view(np.dtype(dtype)).astype(np.float32)
    grey = np.clip((codes - window.low) * (255.0 / window.width), 0, 255).astype(np.uint8)
    return 255 - grey if invert else grey


def _first_number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or (hasattr(value, "__len__") and not isinstance(value, str)):
        value = value[0] if len(value) else None
        if value is None:
            return None
    if isinstance(value, str):
        value = value.split("\\")[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None
