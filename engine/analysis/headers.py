"""Reading a series' DICOM headers (no pixel data): the one place SR, SEG, role matching and the editing
exports get them from. pydicom loads on first use, not with the window."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from engine.series import SeriesInfo

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


def read_header(info: SeriesInfo, index: int = 0) -> Dataset:
    """The header of instance ``index`` of the series (no pixels)."""
    import pydicom

    return pydicom.dcmread(io.BytesIO(info.instances[index].ref.read_bytes()), stop_before_pixels=True)


def read_headers(info: SeriesInfo) -> list[Dataset]:
    """Every instance header of the series (no pixels), in the series' instance order."""
    return [read_header(info, index) for index in range(len(info.instances))]


def keyword_text(header: Dataset, keyword: str) -> str | None:
    """A header value as text (multi-values joined with '\\'), None when absent."""
    from pydicom.multival import MultiValue

    value = header.get(keyword)
    if value is None:
        return None
    return "\\".join(map(str, value)) if isinstance(value, MultiValue) else str(value)
