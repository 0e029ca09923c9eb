"""Pixel facts of one DICOM instance, read from its header, and reading its stored frame values.

Uncompressed little-endian data is read straight from the file into the caller's buffer (the read
releases the GIL, so several threads read at once); everything else goes through pydicom's decoders
(:mod:`engine.dicom.codecs`).
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from typing import IO, BinaryIO

import numpy as np
import pydicom
from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag

from engine.dicom.codecs import decode_frame
from engine.dicom.errors import PlainError, describe
from engine.dicom.limits import (
    BoundedReader,
    UnsafeHeader,
    check_budget,
    check_format,
    check_inflated_size,
    frame_count,
)
from engine.dicom.lookup import Lookup, modality_lookup, palette_lookup
from engine.series import FileRef

_PIXEL_DATA_TAG = (0x7FE0, 0x0010)
_ITEM_TAG = (0xFFFE, 0xE000)
_SEQUENCE_END_TAG = (0xFFFE, 0xE0DD)
_UNDEFINED_LENGTH = 0xFFFFFFFF
_DIRECT_SYNTAXES = (uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian)


class PixelError(PlainError, ValueError):
    """The pixel data of an instance is missing, truncated or cannot be decoded."""


@dataclass(frozen=True)
class PixelFormat:
    """How stored values are laid out: what every frame of a stack must share."""

    rows: int
    columns: int
    samples: int = 1
    bits_allocated: int = 16
    bits_stored: int = 16
    signed: bool = False
    photometric: str = "MONOCHROME2"
    planar: int = 0

    @classmethod
    def from_dataset(cls, ds: Dataset) -> PixelFormat:
        """The format of ``ds``; UnsafeHeader when its values are ones no decoder handles."""
        try:
            bits_allocated = int(ds.BitsAllocated)
            fmt = cls(
                rows=int(ds.Rows),
                columns=int(ds.Columns),
                samples=int(ds.get("SamplesPerPixel", 1) or 1),
                bits_allocated=bits_allocated,
                bits_stored=int(ds.get("BitsStored", bits_allocated) or bits_allocated),
                signed=int(ds.get("PixelRepresentation", 0) or 0) == 1,
                photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip(),
                planar=int(ds.get("PlanarConfiguration", 0) or 0),
            )
        except (TypeError, ValueError) as exc:
            raise UnsafeHeader("the header's image attributes (Rows, Columns, bits) are not numbers") from exc
        check_format(fmt.rows, fmt.columns, fmt.samples, fmt.bits_allocated, fmt.bits_stored)
        return fmt

    @property
    def is_colour(self) -> bool:
        return self.samples > 1

    @property
    def stored_dtype(self) -> np.dtype:
        """The numpy type pydicom returns for these stored values (1-bit data unpacks to uint8)."""
        size = max(self.bits_allocated, 8) // 8
        return np.dtype(f"{'<i' if self.signed else '<u'}{size}")

    @property
    def stored_range(self) -> tuple[int, int]:
        """Smallest and largest value BitsStored can hold."""
        if self.signed:
            return -(1 << (self.bits_stored - 1)), (1 << (self.bits_stored - 1)) - 1
        return 0, (1 << self.bits_stored) - 1

    @property
    def frame_shape(self) -> tuple[int, ...]:
        return (self.rows, self.columns, self.samples) if self.is_colour else (self.rows, self.columns)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one output frame: a palette colour frame becomes RGB."""
        return (self.rows, self.columns, 3) if self.photometric == "PALETTE COLOR" else self.frame_shape

    @property
    def frame_bytes(self) -> int:
        """Bytes of one uncompressed frame (1-bit frames are not byte aligned, see ``expected_bytes``)."""
        return self.rows * self.columns * self.samples * self.bits_allocated // 8

    def expected_bytes(self, frames: int) -> int:
        """Bytes of ``frames`` uncompressed frames."""
        return (self.rows * self.columns * self.samples * frames * self.bits_allocated + 7) // 8

    def native_bytes(self, frames: int) -> int:
        """Bytes of ``frames`` uncompressed frames as stored: YBR_FULL_422 keeps 2 samples per pixel."""
        expected = self.expected_bytes(frames)
        return expected // 3 * 2 if self.photometric == "YBR_FULL_422" else expected

    def describe(self, frames: int) -> str:
        """E.g. ``512x512x1 16-bit`` (columns x rows x frames)."""
        samples = f" x{self.samples} samples" if self.is_colour else ""
        return f"{self.columns}x{self.rows}x{frames} {self.bits_allocated}-bit{samples}"


Rescale = tuple[float, float]  # (slope, intercept)


@dataclass
class InstancePixels:
    """What the loader needs from one instance's header; ``offset`` is set when frames are read directly."""

    ref: FileRef
    transfer_syntax: str
    format: PixelFormat
    frames: int
    rescales: list[Rescale]  # one per frame
    offset: int | None = None  # file offset of the first frame's bytes (direct reads only)
    window: tuple[float, float] | None = None  # (centre, width) of the first window in the header
    header: dict[str, str] = field(default_factory=dict)  # RescaleType, Units, ...
    lookup: Lookup | None = None  # palette colour or Modality LUT, replacing the rescale

    @property
    def direct(self) -> bool:
        return self.offset is not None


_FORMAT_TAGS = (
    0x00280002,
    0x00280004,
    0x00280006,
    0x00280010,
    0x00280011,
    0x00280100,
    0x00280101,
    0x00280103,
)
_FRAMES_TAG = (0x00280008,)
_RESCALE_TAGS = (0x00281052, 0x00281053)
_WINDOW_TAGS = (0x00281050, 0x00281051)
_PALETTE_TAGS = (*_FORMAT_TAGS, 0x00281101, 0x00281102, 0x00281103, 0x00281201, 0x00281202, 0x00281203,
                 0x00281221, 0x00281222, 0x00281223)
_MODALITY_LUT_TAG = 0x00283000
# Header facts the loader copies into Volume.meta: rescale type and units, and what the AI's suitability
# checks (engine.ai.suitability) need to know about the subject and the acquisition.
SUBJECT_KEYWORDS = ("BodyPartExamined", "ViewPosition", "ImageType", "SliceThickness", "ContrastBolusAgent",
                    "PatientAge", "PatientSpeciesDescription", "PatientBreedDescription")
_CODED_FACTS = {"AnatomicRegion": "AnatomicRegionSequence", "PatientSpeciesCode": "PatientSpeciesCodeSequence"}
_HEADER_KEYWORDS = ("RescaleType", "Units", *SUBJECT_KEYWORDS)
_HEADER_TAGS = tuple(Tag(keyword) for keyword in (*_HEADER_KEYWORDS, *_CODED_FACTS.values()))
_FUNCTIONAL_GROUPS = (0x52009229, 0x52009230)  # shared, per-frame


class HeaderCache:
    """Header facts memoised by the raw bytes they come from: every file of a series repeats them, and
    converting pydicom values costs as much as parsing the header."""

    def __init__(self) -> None:
        self._memo: dict[tuple, object] = {}

    def derive(self, ds: Dataset, tags: tuple[int, ...], compute):
        """``compute(ds)``, or its earlier result for a header with the same raw values of ``tags``."""
        key = (compute, ds.original_encoding, tuple(_raw_value(ds, tag) for tag in tags))
        if key not in self._memo:
            self._memo[key] = compute(ds)
        return self._memo[key]


def _raw_value(ds: Dataset, tag: int) -> object:
    element = ds.get_item(tag)
    if element is None:
        return None
    value = element.value
    return value if isinstance(value, bytes | str | int | float | None) else repr(value)


def read_instance_pixels(ref: FileRef, cache: HeaderCache | None = None) -> InstancePixels:
    """Read the header of ``ref`` (no pixel bytes) and locate its pixel data."""
    with _open(ref) as fp:
        ds = _read(fp, stop_before_pixels=True)
        return instance_pixels_from_header(ds, ref, fp, cache)


def instance_pixels_from_header(
    ds: Dataset, ref: FileRef, fp: IO[bytes] | None, cache: HeaderCache | None = None
) -> InstancePixels:
    """Pixel facts of a header parsed with ``stop_before_pixels``; ``fp`` is that file's stream, left at
    the pixel data element (None when it cannot be seeked: frames are then decoded through pydicom)."""
    cache = cache or HeaderCache()
    transfer_syntax = transfer_syntax_of(ds)
    if "Rows" not in ds or "BitsAllocated" not in ds:
        raise PixelError("not an image: no Rows / BitsAllocated in the header")
    fmt = cache.derive(ds, _FORMAT_TAGS, PixelFormat.from_dataset)
    frames = cache.derive(ds, _FRAMES_TAG, _frame_count)
    check_budget(fmt.expected_bytes(frames), f"an image of {fmt.describe(frames)}")
    offset = None
    if fp is not None and ref.member is None and transfer_syntax in _DIRECT_SYNTAXES and _direct_layout(fmt):
        offset = _locate_native_pixels(fp, fp.tell(), transfer_syntax, fmt, frames)
    elif fp is not None and uid.UID(transfer_syntax).is_encapsulated and frames > 1:
        _check_fragments(fp, fp.tell(), frames)
    if any(tag in ds for tag in _FUNCTIONAL_GROUPS):
        rescales = frame_rescales(ds, frames)
    else:
        rescales = [cache.derive(ds, _RESCALE_TAGS, _top_level_rescale)] * frames
    return InstancePixels(
        ref=ref,
        transfer_syntax=transfer_syntax,
        format=fmt,
        frames=frames,
        rescales=rescales,
        offset=offset,
        window=cache.derive(ds, _WINDOW_TAGS, _first_window),
        header=cache.derive(ds, _HEADER_TAGS, _header_facts),
        lookup=_lookup(ds, fmt, cache),
    )


def _lookup(ds: Dataset, fmt: PixelFormat, cache: HeaderCache) -> Lookup | None:
    """The header's palette colour LUT or Modality LUT (memoised: a series repeats its tables)."""
    if fmt.photometric == "PALETTE COLOR":
        return cache.derive(ds, _PALETTE_TAGS, _palette)
    if _MODALITY_LUT_TAG in ds:
        return modality_lookup(ds, *fmt.stored_range, monochrome1=fmt.photometric == "MONOCHROME1")
    return None


def _palette(ds: Dataset) -> Lookup:
    return palette_lookup(ds, *PixelFormat.from_dataset(ds).stored_range)


def _frame_count(ds: Dataset) -> int:
    return frame_count(ds.get("NumberOfFrames"))


def _check_fragments(fp: IO[bytes], at: int, frames: int) -> None:
    """Refuse encapsulated pixel data with fewer fragments than frames (each frame has at least one).

    Only the 8-byte item headers are read, and no more of them than ``frames`` + 1; ``fp`` is left at ``at``.
    """
    fp.seek(at)
    head = fp.read(12)
    if len(head) < 12 or struct.unpack("<HH", head[:4]) != _PIXEL_DATA_TAG:
        return  # not where the scan expects it: the decoder reports what it finds
    fragments = -1  # the first item is the Basic Offset Table
    while fragments < frames:
        item = fp.read(8)
        if len(item) < 8 or struct.unpack("<HH", item[:4]) != _ITEM_TAG:
            break
        length = struct.unpack("<I", item[4:8])[0]
        if length == _UNDEFINED_LENGTH:
            break
        fragments += 1
        fp.seek(length, io.SEEK_CUR)
    fp.seek(at)
    if fragments < frames:
        raise UnsafeHeader(
            f"the header gives {frames} frames but the compressed pixel data holds only {max(fragments, 0)} "
            "fragments (each frame needs at least one)"
        )


def unreadable_reason(ref: FileRef) -> str | None:
    """Why the pixel data of ``ref`` cannot be read, found without decoding it; None when it looks complete.

    The loader's header checks (native length, fragments per frame), and for compressed data, fragments
    that all lie within the file and end with the sequence delimiter.
    """
    try:
        with _open(ref) as fp:
            ds = _read(fp, stop_before_pixels=True)
            at = fp.tell()
            pixels = instance_pixels_from_header(ds, ref, fp)
            if uid.UID(pixels.transfer_syntax).is_encapsulated:
                _check_fragments_end(fp, at)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for broken files; any means unreadable
        return str(exc) if isinstance(exc, PlainError) else describe(exc, "header")
    return None


def _check_fragments_end(fp: IO[bytes], at: int) -> None:
    """PixelError unless the encapsulated pixel data at ``at`` is items within the file, then its delimiter.

    Only the 8-byte item headers are read; each item takes at least 8 bytes, so the walk ends.
    """
    size = fp.seek(0, io.SEEK_END)
    fp.seek(at + 12)  # past the (7FE0,0010) OB element header of undefined length
    while True:
        item = fp.read(8)
        if len(item) < 8:
            raise PixelError("its compressed pixel data is cut off (the file ends before their end marker)")
        tag, length = struct.unpack("<HH", item[:4]), struct.unpack("<I", item[4:8])[0]
        if tag == _SEQUENCE_END_TAG:
            return
        if tag != _ITEM_TAG or fp.tell() + length > size:
            raise PixelError("its compressed pixel data is cut off or damaged (a fragment runs past the file end)")
        fp.seek(length, io.SEEK_CUR)


def _top_level_rescale(ds: Dataset) -> Rescale:
    return _rescale_of(ds) or (1.0, 0.0)


def _header_facts(ds: Dataset) -> dict[str, str]:
    """Plain-text header facts (multi-values joined with '\\'; a code sequence gives its first CodeMeaning).
    A fact whose element cannot be read is left out: it must not cost the image."""
    facts = {}
    for key in _HEADER_KEYWORDS:
        try:
            value = ds.get(key)
        except Exception:  # noqa: BLE001 - a damaged optional element: the fact is unknown
            continue
        if value is not None and value != "":
            facts[key] = "\\".join(map(str, value)) if isinstance(value, MultiValue) else str(value)
    for key, sequence in _CODED_FACTS.items():
        try:
            items = ds.get(sequence)
            meaning = items[0].get("CodeMeaning") if items else None
        except Exception:  # noqa: BLE001 - as above
            continue
        if meaning:
            facts[key] = str(meaning)
    return facts


def frame_rescales(ds: Dataset, frames: int) -> list[Rescale]:
    """(slope, intercept) per frame: per-frame functional groups, else shared groups, else the top level."""
    shared = _rescale_in_groups(ds.get("SharedFunctionalGroupsSequence"), 0)
    default = shared or _rescale_of(ds) or (1.0, 0.0)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    return [(_rescale_in_groups(per_frame, k) if per_frame else None) or default for k in range(frames)]


def _rescale_in_groups(groups, index: int) -> Rescale | None:
    if not groups or index >= len(groups):
        return None
    transform = groups[index].get("PixelValueTransformationSequence")
    return _rescale_of(transform[0]) if transform else None


def _rescale_of(item: Dataset) -> Rescale | None:
    if "RescaleSlope" not in item and "RescaleIntercept" not in item:
        return None
    slope = item.get("RescaleSlope")
    intercept = item.get("RescaleIntercept")
    return (
        float(slope) if slope not in (None, "") else 1.0,
        float(intercept) if intercept not in (None, "") else 0.0,
    )


def _first_window(ds: Dataset) -> tuple[float, float] | None:
    centre, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centre in (None, "") or width in (None, ""):
        return None
    first = lambda value: float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)  # noqa: E731
    return first(centre), first(width)


def _direct_layout(fmt: PixelFormat) -> bool:
    """Frames whose bytes are already the array we want: monochrome, or RGB interleaved by pixel."""
    if fmt.bits_allocated not in (8, 16, 32):
        return False
    return not fmt.is_colour or (fmt.photometric == "RGB" and fmt.planar == 0)


def _locate_native_pixels(fp: IO[bytes], at: int, transfer_syntax: str, fmt: PixelFormat, frames: int) -> int:
    """Offset of the pixel bytes after the (7FE0,0010) element header at ``at``; checks their length."""
    fp.seek(at)
    implicit = transfer_syntax == uid.ImplicitVRLittleEndian
    head = fp.read(8 if implicit else 12)
    if len(head) < 8 or struct.unpack("<HH", head[:4]) != _PIXEL_DATA_TAG:
        raise PixelError("no PixelData element")
    length = struct.unpack("<I", head[4:8] if implicit else head[8:12])[0]
    start = at + len(head)
    available = min(length, max(fp.seek(0, io.SEEK_END) - start, 0))
    if available < fmt.native_bytes(frames):
        raise PixelError(short_pixel_data(available, fmt, frames))
    return start


def short_pixel_data(available: int, fmt: PixelFormat, frames: int) -> str:
    """E.g. ``PixelData has 1000 bytes, expected 524288 for 512x512x1 16-bit``."""
    return (
        f"PixelData has {available} bytes, expected {fmt.native_bytes(frames)} for {fmt.describe(frames)}"
    )


def transfer_syntax_of(ds: Dataset) -> str:
    """The file meta's transfer syntax, or for a file without one, the encoding pydicom found it in."""
    explicit = str(ds.file_meta.get("TransferSyntaxUID", "") or "")
    if explicit:
        return explicit
    implicit_vr, little_endian = ds.original_encoding
    if not little_endian:
        return uid.ExplicitVRBigEndian
    return uid.ImplicitVRLittleEndian if implicit_vr else uid.ExplicitVRLittleEndian


def _read(fp: BinaryIO, stop_before_pixels: bool) -> Dataset:
    """pydicom's parse of ``fp``, forced as the scan's is (files without preamble or file meta are read);
    a file without a transfer syntax gets the one it was read with, for the decoders."""
    ds = pydicom.dcmread(_bounded(fp), stop_before_pixels=stop_before_pixels, force=True)
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = uid.UID(transfer_syntax_of(ds))
    return ds


def _open(ref: FileRef) -> BinaryIO:
    return open(ref.path, "rb") if ref.member is None else io.BytesIO(ref.read_bytes())


def _bounded(fp: BinaryIO) -> BoundedReader:
    """``fp`` (at its start) for pydicom, whose reads stop at the end of the file whatever a length says;
    UnsafeHeader when it is deflated data that would inflate beyond the budget."""
    size = fp.seek(0, io.SEEK_END)
    fp.seek(0)
    check_inflated_size(fp)
    return BoundedReader(fp, size)


def read_direct_frames(pixels: InstancePixels, targets: list[tuple[int, np.ndarray]]) -> None:
    """Read frames straight from the file: ``targets`` = (frame index, contiguous stored-dtype buffer)."""
    assert pixels.offset is not None
    with open(pixels.ref.path, "rb", buffering=0) as fp:
        for frame, buffer in targets:
            fp.seek(pixels.offset + frame * pixels.format.frame_bytes)
            view = buffer.data.cast("B")
            done = 0
            while done < len(view):
                count = fp.readinto(view[done:])
                if not count:
                    available = max(os.fstat(fp.fileno()).st_size - pixels.offset, 0)
                    raise PixelError(short_pixel_data(available, pixels.format, pixels.frames)
                                     + f" (the file ends inside frame {frame})")
                done += count


def load_dataset(pixels: InstancePixels) -> Dataset:
    """The whole dataset (pixels included) of an instance that is decoded through pydicom."""
    with _open(pixels.ref) as fp:
        return _read(fp, stop_before_pixels=False)


def decode_stored_frame(ds: Dataset, pixels: InstancePixels, frame: int) -> np.ndarray:
    """Stored values of one frame of ``ds`` (decoded by pydicom), shaped like ``format.frame_shape``."""
    fmt = pixels.format
    if not uid.UID(pixels.transfer_syntax).is_encapsulated:
        _check_native_length(ds, pixels)
    try:
        array = decode_frame(ds, frame if pixels.frames > 1 else None)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is this file's, in plain words
        raise PixelError(describe(exc, "pixel data")) from exc
    if array.shape != fmt.frame_shape:
        raise PixelError(
            f"its decoded frame has {array.shape} values where the header describes {fmt.frame_shape}"
        )
    return array


def _check_native_length(ds: Dataset, pixels: InstancePixels) -> None:
    data = ds.get("PixelData")
    if data is None:
        raise PixelError("no PixelData element")
    fmt, frames = pixels.format, pixels.frames
    if len(data) < fmt.native_bytes(frames):
        raise PixelError(short_pixel_data(len(data), fmt, frames))
