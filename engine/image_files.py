"""Single-file research image formats as (array (z, y, x), LPS Geometry): NIfTI-1 (engine.nifti), MetaImage
(.mha, or .mhd with its raw data file) and NRRD (.nrrd, attached or detached data), over numpy and zlib.

The geometry conventions are ITK's, so these read what ITK / SimpleITK / 3D Slicer wrote to the same voxels
and patient points (tests/test_nifti.py checks it against SimpleITK): MetaImage stores LPS with the direction
matrix column after column in ``TransformMatrix``; NRRD gives one ``space directions`` vector per axis in
the ``space`` it names (RAS / LPS). Anything else is refused with a ValueError naming the file and why.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path

import numpy as np

from engine.geometry import Geometry
from engine.nifti import read_nifti_array

SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd")
_HEADER_LIMIT = 1 << 16  # text headers are small; a file without one within this many bytes is refused

_META_TYPES = {"MET_UCHAR": "u1", "MET_CHAR": "i1", "MET_USHORT": "u2", "MET_SHORT": "i2", "MET_UINT": "u4",
               "MET_INT": "i4", "MET_ULONG_LONG": "u8", "MET_LONG_LONG": "i8", "MET_FLOAT": "f4",
               "MET_DOUBLE": "f8"}
_NRRD_TYPES = {
    **dict.fromkeys(("signed char", "int8", "int8_t"), "i1"),
    **dict.fromkeys(("uchar", "unsigned char", "uint8", "uint8_t"), "u1"),
    **dict.fromkeys(("short", "short int", "signed short", "signed short int", "int16", "int16_t"), "i2"),
    **dict.fromkeys(("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"), "u2"),
    **dict.fromkeys(("int", "signed int", "int32", "int32_t"), "i4"),
    **dict.fromkeys(("uint", "unsigned int", "uint32", "uint32_t"), "u4"),
    **dict.fromkeys(("longlong", "long long", "long long int", "signed long long", "signed long long int",
                     "int64", "int64_t"), "i8"),
    **dict.fromkeys(("ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"), "u8"),
    "float": "f4", "double": "f8",
}
_LPS_FROM = {"left-posterior-superior": (1, 1, 1), "lps": (1, 1, 1), "right-anterior-superior": (-1, -1, 1),
             "ras": (-1, -1, 1), "left-anterior-superior": (1, -1, 1), "las": (1, -1, 1)}


def read_image_file(path: str | os.PathLike) -> tuple[np.ndarray, Geometry]:
    """The voxels and LPS geometry of a NIfTI, MetaImage or NRRD file (ValueError naming the file)."""
    source = Path(path)
    name = source.name.lower()
    if not source.is_file():
        raise ValueError(f"{source}: no such image file")
    if name.endswith((".nii", ".nii.gz")):
        return read_nifti_array(source)
    if name.endswith((".mha", ".mhd")):
        return read_metaimage(source)
    if name.endswith(".nrrd"):
        return read_nrrd(source)
    raise ValueError(f"{source}: not a supported image file (expected one of {', '.join(SUFFIXES)})")


def read_metaimage(source: Path) -> tuple[np.ndarray, Geometry]:
    """A MetaImage file (.mha with its data inside, or .mhd naming its raw data file)."""
    fields, data_start = _text_header(source, lambda line, seen: line.split("=", 1)[0].strip() == "ElementDataFile")
    meta = {}
    for line in fields:
        key, _, value = line.partition("=")
        meta[key.strip()] = value.strip()
    if meta.get("ObjectType", "Image") != "Image":
        raise ValueError(f"{source}: a MetaImage {meta['ObjectType']} object, not an image")
    dims = _numbers(source, meta, "DimSize", int)
    if len(dims) not in (2, 3) or int(meta.get("NDims", len(dims))) != len(dims):
        raise ValueError(f"{source}: only 2D/3D MetaImage files are supported (DimSize {dims})")
    if int(meta.get("ElementNumberOfChannels", "1")) != 1:
        raise ValueError(f"{source}: only single-channel images are supported")
    kind = _META_TYPES.get(meta.get("ElementType", ""))
    if kind is None:
        raise ValueError(f"{source}: ElementType {meta.get('ElementType')!r} is not supported")
    big_endian = meta.get("BinaryDataByteOrderMSB", meta.get("ElementByteOrderMSB", "False")).lower() == "true"
    dtype = np.dtype((">" if big_endian else "<") + kind)
    n = len(dims)
    spacing = _numbers(source, meta, "ElementSpacing", float, [1.0] * n)
    origin = _numbers(source, meta, next((k for k in ("Offset", "Position", "Origin") if k in meta), "Offset"),
                      float, [0.0] * n)
    matrix_key = next((k for k in ("TransformMatrix", "Rotation", "Orientation") if k in meta), "TransformMatrix")
    direction = np.asarray(_numbers(source, meta, matrix_key, float, list(np.eye(n).ravel()))).reshape(n, n).T
    element_file = meta.get("ElementDataFile", "")
    count = int(np.prod(dims))
    _check_budget(source, count * dtype.itemsize)
    if element_file == "LOCAL":
        data_path, offset = source, data_start
    elif element_file and not element_file.upper().startswith("LIST") and "%" not in element_file:
        data_path = (source.parent / element_file).resolve()
        if not data_path.is_relative_to(source.parent.resolve()):
            raise ValueError(f"{source}: its data file {element_file} lies outside the header's folder")
        offset = int(meta.get("HeaderSize", "0"))
    else:
        raise ValueError(f"{source}: ElementDataFile {element_file!r} is not supported (LOCAL or one file)")
    compressed = meta.get("CompressedData", "False").lower() == "true"
    raw = _read_data(source, data_path, offset, count * dtype.itemsize, "zlib" if compressed else "raw")
    array = np.frombuffer(raw, dtype=dtype, count=count).reshape(dims[::-1]).astype(dtype.newbyteorder("="))
    return array, _geometry(dims, spacing, origin, direction)


def read_nrrd(source: Path) -> tuple[np.ndarray, Geometry]:
    """A NRRD file (data attached, or detached in one ``data file``), raw or gzip encoding."""
    with source.open("rb") as handle:
        if not handle.read(4) == b"NRRD":
            raise ValueError(f"{source}: not a NRRD file (no NRRD magic)")
    lines, data_start = _text_header(source, lambda line, seen: line == "" and seen > 0)
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if line.startswith("#") or not line or ":=" in line:
            continue
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.strip()
    dims = [int(v) for v in fields.get("sizes", "").split()]
    if len(dims) not in (2, 3) or int(fields.get("dimension", len(dims))) != len(dims):
        raise ValueError(f"{source}: only single-channel 2D/3D NRRD images are supported (sizes {dims})")
    kind = _NRRD_TYPES.get(fields.get("type", "").lower())
    if kind is None:
        raise ValueError(f"{source}: NRRD type {fields.get('type')!r} is not supported")
    dtype = np.dtype((">" if fields.get("endian", "little") == "big" else "<") + kind)
    n = len(dims)
    if "space directions" in fields:
        vectors = re.findall(r"\(([^)]*)\)|none", fields["space directions"])
        if len(vectors) != n or any(not v for v in vectors):
            raise ValueError(f"{source}: only single-channel images are supported (space directions)")
        axes = np.array([[float(x) for x in v.split(",")] for v in vectors])  # one row per axis
        signs = _LPS_FROM.get(fields.get("space", "left-posterior-superior").lower())
        if signs is None or axes.shape[1] != 3:
            raise ValueError(f"{source}: NRRD space {fields.get('space')!r} is not supported")
        axes = axes * np.asarray(signs, dtype=float)[None, :]
        spacing = list(np.linalg.norm(axes, axis=1))
        direction = (axes / np.asarray(spacing)[:, None]).T
        origin_text = fields.get("space origin", "(" + ",".join(["0"] * 3) + ")")
        origin = list(np.array([float(x) for x in origin_text.strip("() ").split(",")]) * signs)
        if n == 2:
            spacing, origin, direction = spacing, origin[:2], direction[:2, :2]
    else:
        spacing = [float(v) for v in fields.get("spacings", " ".join(["1"] * n)).split()]
        origin, direction = [0.0] * n, np.eye(n)
    encoding = fields.get("encoding", "raw").lower()
    if encoding not in ("raw", "gzip", "gz"):
        raise ValueError(f"{source}: NRRD encoding {encoding!r} is not supported (raw or gzip)")
    count = int(np.prod(dims))
    _check_budget(source, count * dtype.itemsize)
    detached = fields.get("data file", fields.get("datafile"))
    data_path, offset = source, data_start
    if detached:
        data_path = (source.parent / detached).resolve()
        if not data_path.is_relative_to(source.parent.resolve()):
            raise ValueError(f"{source}: its data file {detached} lies outside the header's folder")
        offset = 0
    raw = _read_data(source, data_path, offset, count * dtype.itemsize, "gzip" if encoding != "raw" else "raw")
    array = np.frombuffer(raw, dtype=dtype, count=count).reshape(dims[::-1]).astype(dtype.newbyteorder("="))
    return array, _geometry(dims, spacing, origin, direction)


def _text_header(source: Path, last_line) -> tuple[list[str], int]:
    """The header lines up to and including the one ``last_line`` accepts, and the data offset after it."""
    with source.open("rb") as handle:
        head = handle.read(_HEADER_LIMIT)
    lines: list[str] = []
    position = 0
    while True:
        end = head.find(b"\n", position)
        if end < 0:
            raise ValueError(f"{source}: no complete image header in its first {_HEADER_LIMIT} bytes")
        try:
            line = head[position:end].decode("ascii").rstrip("\r")
        except UnicodeDecodeError:
            raise ValueError(f"{source}: the header is not text; not an image file") from None
        position = end + 1
        if last_line(line, len(lines)):
            if line:
                lines.append(line)
            return lines, position
        lines.append(line)


def _numbers(source: Path, meta: dict[str, str], key: str, kind, default: list | None = None) -> list:
    if key not in meta:
        if default is None:
            raise ValueError(f"{source}: the header has no {key}")
        return default
    try:
        return [kind(float(v)) if kind is int else kind(v) for v in meta[key].split()]
    except ValueError:
        raise ValueError(f"{source}: {key} is not a list of numbers ({meta[key]!r})") from None


def _check_budget(source: Path, size: int) -> None:
    from engine.dicom.limits import allocation_budget, format_bytes  # engine.dicom imports pydicom

    if size > allocation_budget():
        raise ValueError(f"{source}: the image needs {format_bytes(size)}, more than the "
                         f"{format_bytes(allocation_budget())} allowed (SIGHTLINE_MAX_IMAGE_BYTES)")


def _read_data(source: Path, data_path: Path, offset: int, size: int, encoding: str) -> bytes:
    try:
        with data_path.open("rb") as handle:
            if encoding == "raw":
                if offset < 0:  # HeaderSize = -1: the data are the last bytes of the file
                    handle.seek(-size, os.SEEK_END)
                else:
                    handle.seek(offset)
                data = handle.read(size)
            elif encoding == "gzip":
                handle.seek(offset)
                with gzip.GzipFile(fileobj=handle) as packed:
                    data = packed.read(size)
            else:
                handle.seek(max(offset, 0))
                inflater = zlib.decompressobj()
                data = inflater.decompress(handle.read(), size)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{source}: cannot read its voxel data ({error})") from None
    if len(data) < size:
        raise ValueError(f"{source}: the file is truncated ({len(data)} of {size} bytes of voxel data)")
    return data


def _geometry(dims: list[int], spacing, origin, direction: np.ndarray) -> Geometry:
    if len(dims) == 2:
        planar = np.eye(3)
        planar[:2, :2] = direction
        return Geometry(shape=(dims[1], dims[0]), spacing=tuple(spacing), origin=(*origin, 0.0), direction=planar)
    return Geometry(shape=tuple(dims[::-1]), spacing=tuple(spacing), origin=tuple(origin), direction=direction)
