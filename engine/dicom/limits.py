"""Bounds on what a DICOM header may make the engine allocate, checked before anything is allocated.

A header is untrusted input: Rows, Columns, SamplesPerPixel, BitsAllocated and NumberOfFrames come from
the file, and their product sizes every buffer the scanner and the loader make. These checks refuse values
the decoders cannot handle and images larger than the allocation budget, with a sentence a person can act on.

The budget is 4 GiB by default; ``SIGHTLINE_MAX_IMAGE_BYTES`` (bytes, or with a K/M/G suffix) overrides it.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from typing import IO, Any

from engine.dicom.errors import PlainError

BUDGET_ENV = "SIGHTLINE_MAX_IMAGE_BYTES"
DEFAULT_BUDGET_BYTES = 4 * 2**30
# More frames than any acquisition holds (long ultrasound or fluoroscopy cines stay in the thousands); every
# frame costs the scanner Python objects, so a header asking for millions is refused before they are made.
MAX_FRAMES = 100_000
BITS_ALLOCATED = (1, 8, 16, 32, 64)
SAMPLES_PER_PIXEL = (1, 3)
_DEFLATED_UID = b"1.2.840.10008.1.2.1.99"
_INFLATE_STEP = 1 << 24
_SMALL_READ = 1 << 16  # reads this small are passed through unchecked
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class UnsafeHeader(PlainError, ValueError):
    """The header describes an image the engine refuses to allocate or cannot decode; the message says why."""


def allocation_budget() -> int:
    """Largest image buffer, in bytes, one instance or one stack may need (env var, else 4 GiB)."""
    text = os.environ.get(BUDGET_ENV, "").strip().upper().removesuffix("B").removesuffix("I")
    if not text:
        return DEFAULT_BUDGET_BYTES
    match = re.fullmatch(r"(\d+)\s*([KMGT]?)", text)
    if not match:
        return DEFAULT_BUDGET_BYTES
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_bytes(count: int) -> str:
    """E.g. ``4.0 GiB``, ``512 MiB``, ``100 bytes``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}" if count < 10 * size else f"{count // size} {unit}"
    return f"{count} bytes"


def check_format(rows: int, columns: int, samples: int, bits_allocated: int, bits_stored: int) -> None:
    """Refuse image attributes no decoder handles (UnsafeHeader)."""
    if rows < 1 or columns < 1:
        raise UnsafeHeader(f"the header gives an empty image size ({columns} x {rows} pixels)")
    if samples not in SAMPLES_PER_PIXEL:
        raise UnsafeHeader(
            f"the header gives {samples} samples per pixel; only 1 (grey) or 3 (colour) can be displayed"
        )
    if bits_allocated not in BITS_ALLOCATED:
        raise UnsafeHeader(
            f"the header gives {bits_allocated} bits allocated per pixel; "
            f"only {', '.join(map(str, BITS_ALLOCATED))} are possible in DICOM"
        )
    if not 1 <= bits_stored <= bits_allocated:
        raise UnsafeHeader(
            f"the header gives {bits_stored} bits stored, which does not fit in {bits_allocated} bits allocated"
        )


def frame_count(value: object) -> int:
    """NumberOfFrames as an int (1 when absent); UnsafeHeader when it is not a count the engine reads."""
    if value in (None, ""):
        return 1
    try:
        frames = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise UnsafeHeader(f"the header's NumberOfFrames {value!r} is not a number") from None
    if frames < 1:
        raise UnsafeHeader(f"the header's NumberOfFrames is {frames}; an image has at least one frame")
    if frames > MAX_FRAMES:
        raise UnsafeHeader(
            f"the header's NumberOfFrames is {frames}, more than the {MAX_FRAMES} frames an image can have here"
        )
    return frames


class BoundedReader:
    """A binary stream whose ``read(n)`` never asks for more than the bytes left before ``size``.

    pydicom reads an element's value with ``fp.read(length)``, and Python allocates ``length`` bytes before
    reading: a damaged length field of 4 GiB in a 1 KiB file would allocate 4 GiB for nothing.
    """

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self._stream = stream
        self._size = size

    def read(self, count: int | None = -1) -> bytes:
        if count is not None and 0 <= count <= _SMALL_READ:  # most reads: a tag, a length, a short value
            return self._stream.read(count)
        if count is None or count < 0:
            return self._stream.read()
        return self._stream.read(min(count, max(self._size - self._stream.tell(), 0)))

    def __getattr__(self, name: str) -> Any:  # seek, tell, name, ... of the stream itself
        return getattr(self._stream, name)


def check_budget(needed: int, what: str) -> None:
    """Refuse a buffer of ``needed`` bytes larger than the allocation budget (UnsafeHeader)."""
    budget = allocation_budget()
    if needed > budget:
        raise UnsafeHeader(
            f"{what} would need {format_bytes(needed)} of memory, more than the {format_bytes(budget)} allowed "
            f"(set {BUDGET_ENV} to allow more)"
        )


def check_inflated_size(fp: IO[bytes]) -> None:
    """Refuse a Deflated Explicit VR Little Endian file that inflates beyond the budget (UnsafeHeader).

    pydicom inflates the whole data set in memory before parsing it; a few MiB of deflated zeros would
    become GiB. The data set is inflated here in steps, counting and discarding. ``fp`` (at its start) is
    left at its start; files with another transfer syntax cost one read of their first KiB.
    """
    head = fp.read(1024)
    fp.seek(0)
    if head[128:132] != b"DICM" or _DEFLATED_UID not in head or head[132:138] != b"\x02\x00\x00\x00UL":
        return
    start = 144 + struct.unpack("<I", head[140:144])[0]  # after the file meta group, which gives its length
    fp.seek(start)
    inflater, total, budget = zlib.decompressobj(-zlib.MAX_WBITS), 0, allocation_budget()
    try:
        while chunk := fp.read(_INFLATE_STEP):
            while chunk:
                total += len(inflater.decompress(chunk, _INFLATE_STEP))
                if total > budget:
                    raise UnsafeHeader(
                        f"its deflated data set would need more than {format_bytes(budget)} of memory once inflated "
                        f"(set {BUDGET_ENV} to allow more)"
                    )
                chunk = inflater.unconsumed_tail
    except zlib.error:
        pass  # damaged deflate stream: pydicom reports it
    finally:
        fp.seek(0)
