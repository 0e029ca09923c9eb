"""Detection of a DICOM file cut short: a data element whose value runs past the end of the file.

pydicom reads such a file without complaint: the last element simply gets fewer bytes than its length
says (or, for an undefined-length value, the read stops with an EOF warning). A de-identified copy of it
would be written with the short value, so deid refuses it instead. The check walks the elements as read
(raw, before conversion) and compares each defined length with the bytes actually read.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

UNDEFINED_LENGTH = 0xFFFFFFFF
_MAX_DEPTH = 64


def read_checked(data: bytes, force: bool = False) -> tuple[Dataset, str | None]:
    """Read DICOM bytes with pydicom; return the dataset and why it is cut short (None when complete).

    An EOF that pydicom only warns about, or a raw element holding fewer bytes than its length, is
    reported with the element's tag and offset. pydicom's exceptions (not DICOM, ...) pass through."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = pydicom.dcmread(io.BytesIO(data), force=force)
    for warning in caught:
        if "end of file" in str(warning.message).lower():
            return ds, f"truncated: the file ends ({len(data)} bytes) before a value of undefined length is closed"
    return ds, _short_element(ds, len(data), 0)


def _short_element(ds: Dataset, size: int, depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    for element in list(ds._dict.values()):  # noqa: SLF001 - raw elements, before pydicom converts them
        if not isinstance(element, RawDataElement):
            value = element.value
            if element.VR == "SQ" and isinstance(value, Iterable):
                found = _in_items(value, size, depth)
                if found:
                    return found
            continue
        value = element.value
        if isinstance(value, bytes | bytearray) and element.length != UNDEFINED_LENGTH and \
                len(value) < element.length:
            return (f"truncated: the data element ({element.tag.group:04X},{element.tag.element:04X}) at offset "
                    f"{element.value_tell} runs past the end of the file ({element.length} bytes declared, "
                    f"{len(value)} present)")
        if isinstance(value, list):  # an undefined-length sequence pydicom parsed while reading
            found = _in_items(value, size, depth)
            if found:
                return found
    return None


def _in_items(items: Iterable[object], size: int, depth: int) -> str | None:
    for item in items:
        if isinstance(item, Dataset):
            found = _short_element(item, size, depth + 1)
            if found:
                return found
    return None
