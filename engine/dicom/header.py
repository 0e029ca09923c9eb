"""Read the header of one DICOM file (never its pixels) into a HeaderRecord for the series builder.

``read_header`` raises :class:`NotAnImage` for DICOM objects that hold no image to load (SR, RT plans,
SEG, DICOMDIR, ...) and :class:`HeaderError` for files that are not DICOM or are damaged; the scanner
turns those into "skipped" and "errors" entries.
"""

from __future__ import annotations

import math
import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import IO, Any

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID

from engine.dicom.errors import PlainError
from engine.dicom.limits import BoundedReader, UnsafeHeader, check_format, check_inflated_size, frame_count
from engine.dicom.pixels import HeaderCache, InstancePixels, instance_pixels_from_header, transfer_syntax_of
from engine.series import FileRef, InstanceHeader

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
DEFLATED = "1.2.840.10008.1.2.1.99"
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel Data, Float / Double Float Pixel Data
_PIXEL_VRS = (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN")
_ENCAPSULATED_LENGTH = 0xFFFFFFFF
NOT_DICOM = "not a DICOM file"
# Attributes that tell apart several stacks acquired at the same positions, in the order they are tried.
SPLIT_KEYS = (
    "EchoNumbers",
    "AcquisitionNumber",
    "TemporalPositionIdentifier",
    "TriggerTime",
    "DiffusionBValue",
)


class HeaderError(PlainError):
    """The file is not DICOM, or its header or pixel data is damaged."""


class NotAnImage(PlainError):
    """A DICOM object without a loadable image (the reason is the message)."""


class NotDicom(NotAnImage):
    """A file that is not DICOM at all (text, a colour profile, a dump): skipped, not an error."""


@dataclass
class FramePlane:
    """Geometry and value mapping of one frame of an enhanced multi-frame object (functional groups)."""

    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing) as in DICOM
    slice_thickness: float | None
    rescale: tuple[float, float] | None  # (slope, intercept)
    split_keys: dict[str, str] = field(default_factory=dict)


@dataclass
class HeaderRecord:
    """Everything the series builder needs from one file's header."""

    instance: InstanceHeader
    series_uid: str
    study_uid: str
    modality: str
    description: str
    series_number: int | None
    frame_of_reference_uid: str
    patient: dict[str, str]
    study: dict[str, str]
    image_type: tuple[str, ...]
    patient_orientation: tuple[str, ...]  # e.g. ("L", "F"): where the row and column axes point
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing)
    imager_pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    spacing_between_slices: float | None
    rescale: tuple[float, float] | None
    gantry_tilt: float | None
    samples_per_pixel: int
    split_keys: dict[str, str]
    concatenation_uid: str = ""
    frame_time_ms: float | None = None
    grid_frame_offsets: tuple[float, ...] | None = None  # RT Dose / legacy multi-frame slice offsets (mm)
    frame_planes: list[FramePlane] = field(default_factory=list)  # enhanced multi-frame only

    @property
    def is_enhanced(self) -> bool:
        return bool(self.frame_planes)


def read_header(
    ref: FileRef, archive: zipfile.ZipFile | None = None, cache: HeaderCache | None = None
) -> HeaderRecord:
    """Parse the header of ``ref`` without reading its pixel data, and check the pixel data length.

    For zip members, pass the open ``archive`` to avoid re-reading its directory for every member; pass
    one ``cache`` for all the files of a scan, so that header facts a series repeats are derived once.
    """
    with _open(ref, archive) as (fp, size):
        head = fp.read(132)
        fp.seek(0)
        if head[:2] == b"\x1f\x8b":
            raise NotDicom(f"{NOT_DICOM} (gzip-compressed: unpack it first)")
        if head[128:132] != b"DICM" and not _looks_like_bare_dataset(head):
            raise NotDicom(NOT_DICOM)
        try:
            check_inflated_size(fp)
        except UnsafeHeader as exc:
            raise HeaderError(str(exc)) from exc
        ds = pydicom.dcmread(BoundedReader(fp, size), stop_before_pixels=True, force=True)
        sop_class = str(ds.get("SOPClassUID", "") or ds.file_meta.get("MediaStorageSOPClassUID", "") or "")
        if sop_class == MEDIA_STORAGE_DIRECTORY:
            raise NotAnImage("DICOMDIR (index of a file-set, not an image)")
        if not sop_class and "Rows" not in ds:
            if head[128:132] == b"DICM":
                raise NotAnImage("no SOP Class UID and no image attributes")
            raise NotDicom(f"{NOT_DICOM} (it starts like one but holds no SOP Class UID and no image attributes)")
        transfer_syntax = transfer_syntax_of(ds)
        pixel_element_at = fp.tell()
        has_pixels = _check_pixel_data(fp, size, ds, transfer_syntax)
        pixels = None
        if has_pixels and sop_class != SEGMENTATION_STORAGE and "Rows" in ds and "Columns" in ds:
            fp.seek(pixel_element_at)
            pixels = _loader_facts(ds, ref, fp, cache)
    if sop_class == SEGMENTATION_STORAGE:
        raise NotAnImage("segmentation (SEG) object, not an image series")
    if not has_pixels or "Rows" not in ds or "Columns" not in ds:
        raise NotAnImage(f"no pixel data ({_sop_name(sop_class)})")
    return _record(ds, ref, sop_class, transfer_syntax, pixels)


def _loader_facts(ds: Dataset, ref: FileRef, fp: IO[bytes], cache: HeaderCache | None) -> InstancePixels | None:
    """The loader's pixel facts from this same parse, or None to let the loader read (and report) them.

    A header whose image the engine refuses (UnsafeHeader: sizes no decoder handles, beyond the memory
    budget, more frames than fragments) is a HeaderError here, so the scan never builds stacks from it.
    """
    try:
        return instance_pixels_from_header(ds, ref, fp, cache)
    except UnsafeHeader as exc:
        raise HeaderError(str(exc)) from exc
    except Exception:  # the loader re-reads such a header itself and names the file in its error
        return None


@contextmanager
def _open(ref: FileRef, archive: zipfile.ZipFile | None) -> Iterator[tuple[IO[bytes], int]]:
    """A seekable binary stream of the file (zip members are streamed, not extracted) and its size."""
    if ref.member is None:
        with open(ref.path, "rb") as fp:
            fp.seek(0, 2)
            size = fp.tell()
            fp.seek(0)
            yield fp, size
    elif archive is not None:
        info = archive.getinfo(ref.member)
        with archive.open(info) as fp:
            yield fp, info.file_size
    else:
        with zipfile.ZipFile(ref.path) as own_archive, own_archive.open(ref.member) as fp:
            yield fp, own_archive.getinfo(ref.member).file_size


def _looks_like_bare_dataset(head: bytes) -> bool:
    """True when a file without preamble starts like a DICOM data set (group 0002 or 0008 first)."""
    if len(head) < 8:
        return False
    return struct.unpack("<H", head[:2])[0] in (2, 8) or struct.unpack(">H", head[:2])[0] in (2, 8)


def _check_pixel_data(fp: IO[bytes], size: int, ds: Dataset, transfer_syntax: str) -> bool:
    """Whether the file has pixel data; raises HeaderError when native pixel data is short or cut off.

    ``dcmread(stop_before_pixels=True)`` leaves the stream at the pixel data element's tag, so its
    length field can be read here without loading the value.
    """
    if transfer_syntax == DEFLATED:  # the data set was inflated in memory: offsets are unknown
        return "Rows" in ds
    offset = fp.tell()
    header = fp.read(12)
    if len(header) < 8:
        return False
    endian = "<" if ds.original_encoding[1] else ">"
    group, element = struct.unpack(endian + "HH", header[:4])
    if (group << 16 | element) not in _PIXEL_TAGS:
        return False
    # Decide the VR style from the bytes: some files declare explicit VR but are written implicit.
    if header[4:6] in _PIXEL_VRS:
        if len(header) < 12:
            raise HeaderError("truncated file: the pixel data element header is cut off")
        length, header_length = struct.unpack(endian + "L", header[8:12])[0], 12
    else:
        length, header_length = struct.unpack(endian + "L", header[4:8])[0], 8
    available = size - offset - header_length
    if length == _ENCAPSULATED_LENGTH:
        if available < 8:
            raise HeaderError("truncated file: the encapsulated pixel data is empty or cut off")
        return True
    expected = _expected_native_length(ds)
    if length > available:
        raise HeaderError(f"truncated file: pixel data needs {length} bytes but only {available} are present")
    if expected is not None and length < expected:
        raise HeaderError(f"pixel data too short: {length} bytes, the header describes {expected}")
    return True


def _expected_native_length(ds: Dataset) -> int | None:
    """Bytes of uncompressed pixel data the header describes (None when the header is incomplete);
    HeaderError when its image attributes are ones no decoder handles."""
    rows, columns, bits = _int(ds, "Rows"), _int(ds, "Columns"), _int(ds, "BitsAllocated")
    if rows is None or columns is None or bits is None:
        return None
    samples = _int(ds, "SamplesPerPixel") or 1
    stored = _int(ds, "BitsStored") or bits
    try:
        check_format(rows, columns, samples, bits, stored)
    except UnsafeHeader as exc:
        raise HeaderError(str(exc)) from exc
    pixels = rows * columns * samples * _frames(ds)
    length = (pixels + 7) // 8 if bits == 1 else pixels * (bits // 8)
    if _get(ds, "PhotometricInterpretation") == "YBR_FULL_422":
        length = length // 3 * 2
    return length


def _frames(ds: Dataset) -> int:
    try:
        return frame_count(_get(ds, "NumberOfFrames"))
    except UnsafeHeader as exc:
        raise HeaderError(str(exc)) from None


def _sop_name(sop_class: str) -> str:
    if not sop_class:
        return "no SOP Class UID"
    name = UID(sop_class).name
    return name if name != sop_class else f"SOP Class {sop_class}"


def _record(
    ds: Dataset, ref: FileRef, sop_class: str, transfer_syntax: str, pixels: InstancePixels | None
) -> HeaderRecord:
    rows, columns = _int(ds, "Rows"), _int(ds, "Columns")
    if not rows or not columns:
        raise HeaderError(f"invalid image size {rows} x {columns}")
    instance = InstanceHeader(
        ref=ref,
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        sop_class_uid=sop_class,
        transfer_syntax_uid=transfer_syntax,
        rows=rows,
        columns=columns,
        frames=_frames(ds),
        instance_number=_int(ds, "InstanceNumber"),
        position=_point(_get(ds, "ImagePositionPatient")),
        orientation=_orientation(_get(ds, "ImageOrientationPatient")),
        pixels=pixels,
    )
    return HeaderRecord(
        instance=instance,
        series_uid=_text(ds, "SeriesInstanceUID"),
        study_uid=_text(ds, "StudyInstanceUID"),
        modality=_text(ds, "Modality").upper(),
        description=_text(ds, "SeriesDescription"),
        series_number=_int(ds, "SeriesNumber"),
        frame_of_reference_uid=_text(ds, "FrameOfReferenceUID"),
        patient={k: _text(ds, k) for k in ("PatientID", "PatientName", "PatientBirthDate", "PatientSex")},
        study={k: _text(ds, k) for k in ("StudyDate", "StudyTime", "StudyDescription", "AccessionNumber")},
        image_type=tuple(str(v).upper() for v in _multi(_get(ds, "ImageType"))),
        patient_orientation=tuple(str(v).strip().upper() for v in _multi(_get(ds, "PatientOrientation"))),
        pixel_spacing=_pair(_get(ds, "PixelSpacing")),
        imager_pixel_spacing=_pair(_get(ds, "ImagerPixelSpacing")),
        slice_thickness=_positive(_get(ds, "SliceThickness")),
        spacing_between_slices=_positive(_get(ds, "SpacingBetweenSlices")),
        rescale=_rescale(ds),
        gantry_tilt=_float(_get(ds, "GantryDetectorTilt")),
        samples_per_pixel=_int(ds, "SamplesPerPixel") or 1,
        split_keys=_split_keys(ds),
        concatenation_uid=_text(ds, "ConcatenationUID"),
        frame_time_ms=_positive(_get(ds, "FrameTime")),
        grid_frame_offsets=_grid_offsets(ds, instance.frames),
        frame_planes=_frame_planes(ds, instance.frames),
    )


def _frame_planes(ds: Dataset, frames: int) -> list[FramePlane]:
    """Per-frame geometry from the shared and per-frame functional groups (empty if there are none)."""
    shared = _first(ds.get("SharedFunctionalGroupsSequence"))
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if shared is None and not per_frame:
        return []
    per_frame = list(per_frame or [])
    planes = []
    for index in range(frames):
        groups = [g for g in (per_frame[index] if index < len(per_frame) else None, shared) if g is not None]
        position = _from_groups(groups, "PlanePositionSequence", "ImagePositionPatient")
        measures = _from_groups(groups, "PixelMeasuresSequence", None)
        transform = _from_groups(groups, "PixelValueTransformationSequence", None)
        planes.append(
            FramePlane(
                position=_point(position),
                orientation=_orientation(
                    _from_groups(groups, "PlaneOrientationSequence", "ImageOrientationPatient")
                ),
                pixel_spacing=_pair(measures.get("PixelSpacing")) if measures else None,
                slice_thickness=_positive(measures.get("SliceThickness")) if measures else None,
                rescale=_rescale(transform) if transform else None,
                split_keys=_frame_split_keys(groups),
            )
        )
    return planes


def _from_groups(groups: list[Dataset], sequence: str, keyword: str | None) -> Any:
    """The first item of ``sequence`` (or its ``keyword``) in the per-frame group, else the shared one."""
    for group in groups:
        item = _first(group.get(sequence))
        if item is None:
            continue
        if keyword is None:
            return item
        if keyword in item:
            return item.get(keyword)
    return None


def _frame_split_keys(groups: list[Dataset]) -> dict[str, str]:
    keys: dict[str, str] = {}
    content = _from_groups(groups, "FrameContentSequence", None)
    if content is not None:
        for keyword in ("StackID", "TemporalPositionIndex"):
            if content.get(keyword) not in (None, ""):
                keys[keyword] = str(content.get(keyword))
    for sequence, keyword in (
        ("MREchoSequence", "EffectiveEchoTime"),
        ("MRDiffusionSequence", "DiffusionBValue"),
        ("CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime"),
    ):
        value = _from_groups(groups, sequence, keyword)
        if value not in (None, ""):
            keys[keyword] = str(value)
    return keys


def _grid_offsets(ds: Dataset, frames: int) -> tuple[float, ...] | None:
    offsets = ds.get("GridFrameOffsetVector")
    if offsets is None or frames < 2:
        return None
    values = tuple(_float(v) for v in _multi(offsets))
    if len(values) != frames or any(v is None for v in values):
        return None
    return tuple(float(v) for v in values)  # type: ignore[arg-type]


def _split_keys(ds: Dataset) -> dict[str, str]:
    return {k: str(ds.get(k)) for k in SPLIT_KEYS if ds.get(k) not in (None, "")}


def _rescale(ds: Dataset) -> tuple[float, float] | None:
    slope, intercept = _float(_get(ds, "RescaleSlope")), _float(_get(ds, "RescaleIntercept"))
    if slope is None and intercept is None:
        return None
    return (slope if slope else 1.0, intercept or 0.0)


def _first(sequence: Any) -> Dataset | None:
    try:
        return sequence[0] if sequence else None
    except (IndexError, TypeError):
        return None


def _multi(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str | bytes | int | float):
        return [value]
    return list(value)


def _get(ds: Dataset, keyword: str) -> Any:
    """``ds.get(keyword)``, decoding plain ASCII values (UIDs, codes, numbers, dates) straight from the raw
    bytes: pydicom's general conversion (hooks, validation) cost more than the parse itself, and a scan
    reads ~40 values of every file. Anything else (text in a character set, binary VRs, UN, odd numbers)
    takes pydicom's conversion, so the results are the same."""
    tag, vr = _tag_and_vr(keyword)
    raw = ds.get_item(tag)
    if raw is None:
        return None
    if not isinstance(raw, RawDataElement) or raw.VR not in (None, vr) or not isinstance(raw.value, bytes):
        return ds.get(keyword)
    value = raw.value
    if vr == "US" and len(value) == 2:
        return int.from_bytes(value, "little" if ds.original_encoding[1] is not False else "big")
    if vr in _TEXT_VRS and value.isascii() and b"\\" not in value and b"\x1b" not in value and not _jis_roman(ds):
        return value.decode("ascii").rstrip(" \0")  # ASCII reads the same in every other character set
    if vr in _ASCII_VRS:
        parts = value.decode("latin-1").strip(" \0").split("\\")
        try:
            converted = [_ASCII_VRS[vr](part.strip(" \0")) for part in parts]
        except ValueError:
            converted = None
        if converted is not None and all(v is not None for v in converted):
            return converted[0] if len(converted) == 1 else converted
    return ds.get(keyword)


def _jis_roman(ds: Dataset) -> bool:
    """Whether the character set is JIS X 0201 (ISO_IR 13), where 0x5C and 0x7E are not ASCII's."""
    charset = ds.get_item(0x00080005)
    value = getattr(charset, "value", None)
    return value is not None and "13" in (value.decode("latin-1") if isinstance(value, bytes) else str(value))


@cache
def _tag_and_vr(keyword: str) -> tuple[int, str]:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return tag, dictionary_VR(tag)


def _decimal(text: str) -> float | None:
    return float(text) if text else None


def _integer(text: str) -> int | None:
    return int(text) if text else None


# Text VRs whose values may use a character set: taken from the bytes only when they are plain ASCII
_TEXT_VRS = frozenset({"LO", "SH", "PN", "ST", "LT"})
# VR -> conversion of one value (None: empty, left to pydicom) for values in the default repertoire
_ASCII_VRS: dict[str, Any] = {
    "UI": lambda text: text or None, "CS": lambda text: text or None, "DA": lambda text: text or None,
    "TM": lambda text: text or None, "DS": _decimal, "IS": _integer,
}


def _text(ds: Dataset, keyword: str) -> str:
    value = _get(ds, keyword)
    return "" if value is None else str(value).strip()


def _int(ds: Dataset, keyword: str) -> int | None:
    value = _get(ds, keyword)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _positive(value: Any) -> float | None:
    number = _float(value)
    return number if number is not None and number > 0 else None


def _floats(value: Any, count: int, positive: bool = False) -> tuple[float, ...] | None:
    values = [_float(v) for v in _multi(value)]
    if len(values) != count or any(v is None for v in values):
        return None
    if positive and any(v <= 0 for v in values):  # type: ignore[operator]
        return None
    return tuple(values)  # type: ignore[arg-type]


def _point(value: Any) -> tuple[float, float, float] | None:
    """Three floats (a patient position), or None."""
    values = _floats(value, 3)
    return None if values is None else (values[0], values[1], values[2])


def _pair(value: Any) -> tuple[float, float] | None:
    """Two positive floats (a pixel spacing), or None."""
    values = _floats(value, 2, positive=True)
    return None if values is None else (values[0], values[1])


def _orientation(value: Any) -> tuple[float, ...] | None:
    """ImageOrientationPatient as six floats, or None when absent or degenerate."""
    values = _floats(value, 6)
    if values is None:
        return None
    row, column = values[:3], values[3:]
    norm_row = math.sqrt(sum(v * v for v in row))
    norm_column = math.sqrt(sum(v * v for v in column))
    if norm_row < 1e-6 or norm_column < 1e-6:
        return None
    if abs(sum(r * c for r, c in zip(row, column, strict=True))) / (norm_row * norm_column) > 0.01:
        return None
    return values
