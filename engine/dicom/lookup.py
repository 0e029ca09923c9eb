"""Lookup tables from stored values to output values: the palette colour LUT and the Modality LUT.

Each table is built from a header (a palette once per series that repeats it) with pydicom's own transforms,
so the result is pydicom's by construction, over every value that BitsStored allows; a frame is then mapped
with one ``take``.
A palette gives RGB uint8 (16-bit entries keep their high byte), like every other colour image; a Modality
LUT gives its entries' type (uint8 or uint16), the modality values. MONOCHROME1 is inverted on the Modality
LUT's output range, so higher values are brighter, as for rescaled images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut

from engine.dicom.errors import PlainError

PALETTE = "palette"
MODALITY_LUT = "modality LUT"
_COLOURS = ("Red", "Green", "Blue")
_MAX_TABLE_BITS = 16  # a table for every stored value: 65,536 entries at most


class TableError(PlainError, ValueError):
    """The header's lookup table cannot be used."""


@dataclass(frozen=True, eq=False)
class Lookup:
    """``table[v - first]`` is the output of stored value ``v`` (first..first + len(table) - 1)."""

    kind: str  # PALETTE or MODALITY_LUT
    table: np.ndarray  # (n,) or (n, 3)
    first: int
    inverted: bool = False  # MONOCHROME1 folded into the table

    def write(self, stored: np.ndarray, out: np.ndarray) -> None:
        """Map one frame of stored values into ``out`` (which may share memory with ``stored``)."""
        index = stored.astype(np.intp) - self.first if self.first else stored
        out[...] = self.table.take(index, axis=0, mode="clip")

    def mirror(self, window: tuple[float, float] | None) -> tuple[float, float] | None:
        """The header window on the inverted table's values (same width, mirrored centre)."""
        if window is None or not self.inverted:
            return window
        centre, width = window
        return float(self.table.min()) + float(self.table.max()) - centre, width


def palette_lookup(ds: Dataset, low: int, high: int) -> Lookup:
    """The RGB uint8 table of a PALETTE COLOR header (segmented palettes included) for values low..high."""
    values = _stored_values(low, high)
    try:
        table = apply_color_lut(values, _palette_as_pydicom_reads_it(ds))
    except Exception as exc:  # noqa: BLE001 - pydicom raises several types for a damaged palette
        raise TableError("its palette colour lookup table is missing or damaged") from exc
    if table.dtype.itemsize > 1:
        table = (table >> 8).astype(np.uint8)
    return Lookup(PALETTE, np.ascontiguousarray(table, dtype=np.uint8), low)


def modality_lookup(ds: Dataset, low: int, high: int, monochrome1: bool) -> Lookup:
    """The table of the header's Modality LUT Sequence for values low..high (inverted for MONOCHROME1)."""
    values = _stored_values(low, high)
    try:
        table = apply_modality_lut(values, ds)
    except Exception as exc:  # noqa: BLE001 - as above
        raise TableError("its Modality LUT Sequence is damaged") from exc
    if table.dtype.kind not in "iu":
        raise TableError("its Modality LUT Sequence has no table of integer values")
    if monochrome1:
        table = table.dtype.type(int(table.min()) + int(table.max())) - table
    return Lookup(MODALITY_LUT, np.ascontiguousarray(table), low, monochrome1)


def _palette_as_pydicom_reads_it(ds: Dataset) -> Dataset:
    """``ds``, or for a big-endian file with 16-bit (unsegmented) palette data, a dataset of its palette with
    the data in little-endian order: pydicom reads that data little-endian whatever the file's byte order."""
    if ds.original_encoding[1] is not False or "RedPaletteColorLookupTableData" not in ds:
        return ds
    palette = Dataset()
    for colour in _COLOURS:
        descriptor = ds[f"{colour}PaletteColorLookupTableDescriptor"].value
        data = ds[f"{colour}PaletteColorLookupTableData"].value
        entries = int(descriptor[0]) or 1 << 16
        if len(data) == 2 * entries:
            data = np.frombuffer(data, ">u2").astype("<u2").tobytes()
        setattr(palette, f"{colour}PaletteColorLookupTableDescriptor", descriptor)
        setattr(palette, f"{colour}PaletteColorLookupTableData", data)
    return palette


def _stored_values(low: int, high: int) -> np.ndarray:
    if high - low >= 1 << _MAX_TABLE_BITS:
        raise TableError(f"a lookup table on stored values wider than {_MAX_TABLE_BITS} bits is not supported")
    return np.arange(low, high + 1, dtype=np.int32 if low < 0 else np.uint16)
