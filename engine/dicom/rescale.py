"""From stored values to the values a Volume holds: unused bits, MONOCHROME1 inversion, rescale, dtype.

Output type policy (``plan_output``):
- a lookup table (palette colour, Modality LUT; :mod:`engine.dicom.lookup`): the table's type, replacing
  the rescale;
- colour: the stored type (uint8 RGB), untouched;
- no rescale anywhere (slope 1, intercept 0): the stored integer type;
- slope 1 and integer intercepts (CT Hounsfield units): int16 when every rescaled value is known to fit
  (from BitsStored and signedness), or when 16-bit stored values may not fit in theory — then each frame's
  actual range is checked and the load restarts as float32 if one does not fit (``RangeOverflow``);
- anything else: float32, computed in float64 per frame.

MONOCHROME1 (low = bright) is inverted on the stored values, about the stored range
(``v -> min + max - v`` with min/max from BitsStored and signedness), before the rescale, so higher
values are brighter and the value range is unchanged. The window from the header is mirrored the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.dicom.lookup import Lookup
from engine.dicom.pixels import PixelFormat, Rescale

_INT16 = np.iinfo(np.int16)


class RangeOverflow(Exception):
    """A frame's rescaled values do not fit the int16 output; the caller reloads as float32."""


@dataclass(frozen=True)
class OutputPlan:
    """The output dtype and the steps applied to every frame."""

    dtype: np.dtype
    invert: bool = False
    checked: bool = False  # int16 chosen on trust: check each frame's rescaled range
    rescaled: bool = False  # False: values are copied unchanged (apart from the inversion)
    lookup: str = ""  # the kind of lookup table every frame goes through (none when empty)

    @property
    def kind(self) -> str:
        """A short name for volume.meta: 'stored', 'int16-exact', 'float32', 'palette' or 'modality LUT'."""
        if self.lookup:
            return self.lookup
        if not self.rescaled:
            return "stored"
        return "int16-exact" if self.dtype == np.int16 else "float32"


def plan_output(
    fmt: PixelFormat, rescales: Sequence[Rescale], force_float: bool = False, lookup: Lookup | None = None
) -> OutputPlan:
    """Choose the output dtype for a stack of frames sharing ``fmt`` with these per-frame rescales, or
    with this lookup table."""
    if lookup is not None:
        return OutputPlan(lookup.table.dtype, lookup=lookup.kind)
    invert = fmt.photometric == "MONOCHROME1"
    if fmt.is_colour:
        return OutputPlan(fmt.stored_dtype)
    identity = all(slope == 1.0 and intercept == 0.0 for slope, intercept in rescales)
    if identity and not force_float:
        return OutputPlan(fmt.stored_dtype, invert=invert)
    integral = all(slope == 1.0 and float(intercept).is_integer() for slope, intercept in rescales)
    if integral and not force_float:
        low, high = fmt.stored_range
        intercepts = [int(intercept) for _, intercept in rescales]
        fits = _INT16.min <= low + min(intercepts) and high + max(intercepts) <= _INT16.max
        if fits or fmt.bits_allocated <= 16:
            return OutputPlan(np.dtype(np.int16), invert=invert, checked=not fits, rescaled=True)
    return OutputPlan(np.dtype(np.float32), invert=invert, rescaled=True)


def correct_unused_bits(stored: np.ndarray, fmt: PixelFormat) -> None:
    """Mask (unsigned) or sign-extend (signed) the bits above BitsStored in place, as pydicom does."""
    shift = fmt.stored_dtype.itemsize * 8 - fmt.bits_stored
    if shift <= 0:
        return
    if fmt.signed:
        np.left_shift(stored, shift, out=stored)
        np.right_shift(stored, shift, out=stored)
    else:
        np.bitwise_and(stored, (1 << fmt.bits_stored) - 1, out=stored)


def write_frame(
    stored: np.ndarray, out: np.ndarray, rescale: Rescale, plan: OutputPlan, fmt: PixelFormat
) -> None:
    """Turn one frame of stored values into output values in ``out`` (``stored`` may be a view of ``out``).

    ``stored`` is modified when MONOCHROME1 is inverted.
    """
    if plan.invert:
        low, high = fmt.stored_range
        np.subtract(stored.dtype.type(low + high), stored, out=stored)
    same_memory = np.shares_memory(stored, out)
    slope, intercept = rescale
    if plan.dtype == np.float32:
        values = stored.astype(np.float64)
        if slope != 1.0:
            values *= slope
        values += intercept
        out[...] = values
        return
    if not plan.rescaled:
        if not same_memory:
            out[...] = stored
        return
    offset = int(intercept)
    if plan.checked and stored.size:
        low, high = int(stored.min()) + offset, int(stored.max()) + offset
        if low < _INT16.min or high > _INT16.max:
            raise RangeOverflow(f"rescaled values {low}..{high} do not fit int16")
    if not same_memory:
        out[...] = stored.astype(np.int16, copy=False, casting="unsafe")
    # Modular int16 arithmetic: exact because the true result fits int16 (planned or checked above).
    np.add(out, np.int16(((offset + 32768) % 65536) - 32768), out=out)


def mirror_window(
    window: tuple[float, float] | None, fmt: PixelFormat, rescale: Rescale
) -> tuple[float, float] | None:
    """The header window expressed on MONOCHROME1-inverted values (same width, mirrored centre)."""
    if window is None:
        return None
    low, high = fmt.stored_range
    slope, intercept = rescale
    centre, width = window
    return slope * (low + high) + 2 * intercept - centre, width
