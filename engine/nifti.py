"""NIfTI-1 read/write over numpy (``.nii`` and ``.nii.gz``; gzip from the standard library).

NIfTI stores RAS+ world coordinates; our Geometry is LPS (DICOM patient coordinates), so the x and y rows of
the affine change sign on the way in and out, exactly as ITK (and so SimpleITK and 3D Slicer) do. The writer
stores the same transform twice, as the qform (rotation quaternion, voxel sizes, offset) and as the sform
(the 3x4 matrix), both with code 1 (scanner anatomical), like ITK: every voxel sits at the same patient
point the DICOM header gave it in any NIfTI reader. The reader takes the sform when it is set and is a
rotation times voxel sizes, else the qform, else (neither set) ITK's fallback: voxel sizes along L, P, S.

Arrays are (z, y, x) in C order, which is NIfTI's x-fastest voxel order, so the data block is read and
written without reordering. 2D images are written as one-slice 3D files (as ITK does for our projection
images); a 2D file (dim[0] = 2) reads back as a 2D image.

8-bit RGB images (a trailing samples axis of 3) are written as RGB24 (datatype 128, 24 bits, R G B
interleaved per voxel, intent none, dim[0] = 3 with one slice for a 2D image), exactly as dcm2niix writes
colour DICOM; the reader returns them as (z, y, x, 3) uint8 when asked (``allow_rgb``).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np

from engine.atomic import atomic_write
from engine.geometry import Geometry
from engine.volume import Heatmap, LabelMap, Volume

Image = Volume | LabelMap | Heatmap

HEADER_SIZE = 348
DATA_OFFSET = 352  # header + the 4-byte extension flag (no extensions)
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
XFORM_SCANNER_ANAT = 1
UNITS_MM_SEC = 2 | 8
GZIP_LEVEL = 6

# NIfTI-1 header fields in file order (nifti1.h); "<" is replaced by the file's byte order on read.
_FIELDS: list[tuple] = [
    ("sizeof_hdr", "i4"), ("data_type", "S10"), ("db_name", "S18"), ("extents", "i4"),
    ("session_error", "i2"), ("regular", "S1"), ("dim_info", "u1"), ("dim", "i2", (8,)),
    ("intent_p1", "f4"), ("intent_p2", "f4"), ("intent_p3", "f4"), ("intent_code", "i2"),
    ("datatype", "i2"), ("bitpix", "i2"), ("slice_start", "i2"), ("pixdim", "f4", (8,)),
    ("vox_offset", "f4"), ("scl_slope", "f4"), ("scl_inter", "f4"), ("slice_end", "i2"),
    ("slice_code", "u1"), ("xyzt_units", "u1"), ("cal_max", "f4"), ("cal_min", "f4"),
    ("slice_duration", "f4"), ("toffset", "f4"), ("glmax", "i4"), ("glmin", "i4"),
    ("descrip", "S80"), ("aux_file", "S24"), ("qform_code", "i2"), ("sform_code", "i2"),
    ("quatern_b", "f4"), ("quatern_c", "f4"), ("quatern_d", "f4"),
    ("qoffset_x", "f4"), ("qoffset_y", "f4"), ("qoffset_z", "f4"),
    ("srow_x", "f4", (4,)), ("srow_y", "f4", (4,)), ("srow_z", "f4", (4,)),
    ("intent_name", "S16"), ("magic", "S4"),
]


def _header_dtype(order: str) -> np.dtype:
    return np.dtype([(f[0], order + str(f[1]), *f[2:]) if str(f[1])[0] in "iuf" else f for f in _FIELDS])


# NIfTI datatype code <-> numpy scalar type (single-channel types only).
DATATYPES = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64, 256: np.int8,
             512: np.uint16, 768: np.uint32, 1024: np.int64, 1280: np.uint64}
_CODES = {np.dtype(kind): code for code, kind in DATATYPES.items()}
DT_RGB24 = 128


def write_nifti(image: Image, path: str | os.PathLike) -> Path:
    """Write ``image`` as NIfTI-1 (.nii, or gzip-compressed .nii.gz) atomically; returns the path."""
    target = Path(path)
    if not (target.name.endswith(".nii") or target.name.endswith(".nii.gz")):
        raise ValueError(f"{target}: a NIfTI file name must end in .nii or .nii.gz")
    array = np.asarray(image.array)
    rgb = array.ndim == len(image.geometry.shape) + 1
    if rgb:
        if array.shape[-1] != 3 or array.dtype != np.uint8:
            raise ValueError(f"{target}: NIfTI holds colour only as 8-bit RGB (RGB24); this image has "
                             f"{array.shape[-1]} samples of {array.dtype}")
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8)
    elif array.dtype == np.float16:
        array = array.astype(np.float32)
    if not rgb and array.dtype.newbyteorder("=") not in _CODES:
        raise ValueError(f"{target}: cannot store {array.dtype} voxels in NIfTI")
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    if image.geometry.is_projection:
        array = array[None, ...]
    header = nifti_header(image.geometry, array.shape[:3], array.dtype, rgb=rgb)
    with atomic_write(target) as handle:
        if target.name.endswith(".gz"):
            with gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as packed:
                _write_body(packed, header, array)
        else:
            _write_body(handle, header, array)
    return target


def _write_body(handle: IO[bytes] | BinaryIO | gzip.GzipFile, header: bytes, array: np.ndarray) -> None:
    handle.write(header)
    handle.write(b"\0\0\0\0")  # extension flag: none
    for plane in array:  # one slice at a time: no second copy of a large volume in memory
        handle.write(plane.tobytes())


def nifti_header(geometry: Geometry, shape_zyx: tuple[int, ...], dtype: np.dtype, rgb: bool = False) -> bytes:
    """The 348-byte little-endian NIfTI-1 header of a (z, y, x) array of ``dtype`` on ``geometry``; with
    ``rgb``, of a (z, y, x, 3) uint8 array stored as RGB24."""
    header = np.zeros((), dtype=_header_dtype("<"))
    header["sizeof_hdr"] = HEADER_SIZE
    header["regular"] = b"r"
    nx, ny, nz = (int(n) for n in shape_zyx[::-1])
    header["dim"] = [3, nx, ny, nz, 1, 1, 1, 1]
    if rgb:
        header["datatype"] = DT_RGB24
        header["bitpix"] = 24
    else:
        header["datatype"] = _CODES[np.dtype(dtype).newbyteorder("=")]
        header["bitpix"] = np.dtype(dtype).itemsize * 8
    rotation = LPS_TO_RAS @ geometry.direction
    origin = LPS_TO_RAS @ np.asarray(geometry.origin)
    quaternion, qfac = rotation_to_quaternion(rotation)
    header["pixdim"] = [qfac, *geometry.spacing, 1.0, 1.0, 1.0, 1.0]
    header["vox_offset"] = DATA_OFFSET
    header["scl_slope"] = 1.0
    header["scl_inter"] = 0.0
    header["xyzt_units"] = UNITS_MM_SEC
    header["descrip"] = b"Sightline"
    header["qform_code"] = XFORM_SCANNER_ANAT
    header["sform_code"] = XFORM_SCANNER_ANAT
    header["quatern_b"], header["quatern_c"], header["quatern_d"] = quaternion
    header["qoffset_x"], header["qoffset_y"], header["qoffset_z"] = origin
    matrix = rotation * np.asarray(geometry.spacing)[None, :]
    for row, name in enumerate(("srow_x", "srow_y", "srow_z")):
        header[name] = [*matrix[row], origin[row]]
    header["magic"] = b"n+1\0"
    return header.tobytes()


def rotation_to_quaternion(rotation: np.ndarray) -> tuple[tuple[float, float, float], float]:
    """(b, c, d) of the unit quaternion of ``rotation`` and qfac (-1 for a left-handed matrix, whose third
    column is flipped first), as nifti1_io's nifti_mat44_to_quatern computes them."""
    r = np.array(rotation, dtype=float)
    qfac = 1.0
    if np.linalg.det(r) < 0:
        r[:, 2] *= -1.0
        qfac = -1.0
    trace = r[0, 0] + r[1, 1] + r[2, 2] + 1.0
    if trace > 0.5:
        a = 0.5 * np.sqrt(trace)
        b, c, d = (0.25 * (r[2, 1] - r[1, 2]) / a, 0.25 * (r[0, 2] - r[2, 0]) / a, 0.25 * (r[1, 0] - r[0, 1]) / a)
    else:
        xd, yd = 1.0 + r[0, 0] - (r[1, 1] + r[2, 2]), 1.0 + r[1, 1] - (r[0, 0] + r[2, 2])
        zd = 1.0 + r[2, 2] - (r[0, 0] + r[1, 1])
        if xd > 1.0:
            b = 0.5 * np.sqrt(xd)
            c, d, a = 0.25 * (r[0, 1] + r[1, 0]) / b, 0.25 * (r[0, 2] + r[2, 0]) / b, 0.25 * (r[2, 1] - r[1, 2]) / b
        elif yd > 1.0:
            c = 0.5 * np.sqrt(yd)
            b, d, a = 0.25 * (r[0, 1] + r[1, 0]) / c, 0.25 * (r[1, 2] + r[2, 1]) / c, 0.25 * (r[0, 2] - r[2, 0]) / c
        else:
            d = 0.5 * np.sqrt(zd)
            b, c, a = 0.25 * (r[0, 2] + r[2, 0]) / d, 0.25 * (r[1, 2] + r[2, 1]) / d, 0.25 * (r[1, 0] - r[0, 1]) / d
        if a < 0.0:
            b, c, d = -b, -c, -d
    return (float(b), float(c), float(d)), qfac


def quaternion_to_rotation(b: float, c: float, d: float, qfac: float) -> np.ndarray:
    """The 3x3 rotation (third column times ``qfac``) of a NIfTI qform quaternion (nifti_quatern_to_mat44)."""
    b, c, d = float(b), float(c), float(d)
    a = 1.0 - (b * b + c * c + d * d)
    if a < 1e-7:  # a 180-degree rotation: (b, c, d) is the axis, renormalised
        scale = 1.0 / np.sqrt(b * b + c * c + d * d)
        a, b, c, d = 0.0, b * scale, c * scale, d * scale
    else:
        a = np.sqrt(a)
    rotation = np.array([
        [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
        [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
        [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
    ])
    rotation[:, 2] *= -1.0 if qfac < 0 else 1.0
    return rotation


def read_nifti(path: str | os.PathLike, modality: str = "", allow_rgb: bool = False) -> Volume:
    """Read a 3D (or 2D) single-channel NIfTI-1 file (or, with ``allow_rgb``, an RGB24 one) as a Volume in
    LPS; anything else is refused with a ValueError naming the file and the reason."""
    source = Path(path)
    array, geometry = read_nifti_array(source, allow_rgb=allow_rgb)
    return Volume(array=array, geometry=geometry, modality=modality, meta={"source": str(source)})


def read_nifti_array(source: Path, allow_rgb: bool = False) -> tuple[np.ndarray, Geometry]:
    """The voxels (z, y, x) and LPS geometry of the NIfTI-1 file ``source`` (ValueError naming it); with
    ``allow_rgb`` an RGB24 file reads as (z, y, x, 3) uint8, otherwise it is refused."""
    # here, not at the top: engine.dicom's package imports pydicom, which the viewer's start-up leaves out
    from engine.dicom.limits import allocation_budget, format_bytes

    try:
        with _open(source) as handle:
            raw = handle.read(HEADER_SIZE)
            header = _parse_header(source, raw)
            dims = _dimensions(source, header)
            rgb = int(header["datatype"]) == DT_RGB24
            if rgb and not allow_rgb:
                raise ValueError(f"{source}: an RGB colour image; a single-channel image is needed here")
            kind = np.dtype(np.uint8) if rgb else \
                np.dtype(DATATYPES[int(header["datatype"])]).newbyteorder(header.dtype["sizeof_hdr"].byteorder)
            count = int(np.prod(dims)) * (3 if rgb else 1)
            size = count * kind.itemsize
            if size > allocation_budget():
                raise ValueError(f"{source}: the image needs {format_bytes(size)}, more than the "
                                 f"{format_bytes(allocation_budget())} allowed (SIGHTLINE_MAX_IMAGE_BYTES)")
            offset = max(int(header["vox_offset"]), DATA_OFFSET)
            handle.read(offset - HEADER_SIZE)
            data = handle.read(size)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{source}: not a readable NIfTI file ({error})") from None
    if len(data) < size:
        raise ValueError(f"{source}: the file is truncated ({len(data)} of {size} bytes of voxel data)")
    array = np.frombuffer(data, dtype=kind, count=count).reshape(dims[::-1] + ((3,) if rgb else ()))
    array = array.astype(kind.newbyteorder("="), copy=True)  # native byte order, writable
    if rgb:  # RGB24 has no scaling (nifti1.h: scl_slope does not apply to it)
        return array, _geometry(source, header, dims)
    slope, intercept = float(header["scl_slope"]), float(header["scl_inter"])
    if np.isfinite(slope) and slope != 0.0 and (slope, intercept) != (1.0, 0.0):
        result_type = np.float64 if array.dtype == np.float64 else np.float32
        array = (array * result_type(slope) + result_type(intercept if np.isfinite(intercept) else 0.0))
        array = array.astype(result_type)
    return array, _geometry(source, header, dims)


def _open(source: Path) -> BinaryIO | gzip.GzipFile:
    if not source.is_file():
        raise ValueError(f"{source}: no such NIfTI file")
    with source.open("rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"
    return gzip.open(source, "rb") if compressed else source.open("rb")


def _parse_header(source: Path, raw: bytes) -> np.void:
    if len(raw) < HEADER_SIZE:
        raise ValueError(f"{source}: not a NIfTI file (shorter than a {HEADER_SIZE}-byte header)")
    (little,) = struct.unpack("<i", raw[:4])
    (big,) = struct.unpack(">i", raw[:4])
    if HEADER_SIZE not in (little, big):
        name = "NIfTI-2, which is not supported" if 540 in (little, big) else "not a NIfTI-1 file"
        raise ValueError(f"{source}: {name} (header size {little})")
    header = np.frombuffer(raw[:HEADER_SIZE], dtype=_header_dtype("<" if little == HEADER_SIZE else ">"))[0]
    magic = bytes(header["magic"])
    if magic.startswith(b"ni1"):
        raise ValueError(f"{source}: a .hdr/.img NIfTI pair; only single-file .nii / .nii.gz is supported")
    if not magic.startswith(b"n+1"):
        raise ValueError(f"{source}: not a NIfTI-1 file (no n+1 magic; ANALYZE 7.5 is not supported)")
    if int(header["datatype"]) not in DATATYPES and int(header["datatype"]) != DT_RGB24:
        raise ValueError(f"{source}: voxel type {int(header['datatype'])} is not supported "
                         "(only single-channel integer and float images, and RGB24)")
    return header


def _dimensions(source: Path, header: np.void) -> tuple[int, ...]:
    dim = [int(n) for n in header["dim"]]
    rank = dim[0]
    if not 1 <= rank <= 7:
        raise ValueError(f"{source}: invalid dim[0] = {rank}")
    sizes = dim[1:rank + 1]
    if min(sizes) < 1:
        raise ValueError(f"{source}: invalid image size {sizes}")
    if rank > 3 and any(n != 1 for n in sizes[3:]):
        raise ValueError(f"{source}: only single-channel 2D/3D images are supported, got size {sizes}")
    if rank < 2:
        raise ValueError(f"{source}: only 2D/3D images are supported, got a {rank}D image")
    return tuple(sizes[:3])


def _geometry(source: Path, header: np.void, dims: tuple[int, ...]) -> Geometry:
    pixdim = np.asarray(header["pixdim"], dtype=float)
    spacing = np.where(pixdim[1:4] > 0, pixdim[1:4], 1.0)
    matrix = None
    if int(header["sform_code"]) > 0:
        rows = np.array([header["srow_x"], header["srow_y"], header["srow_z"]], dtype=float)
        columns = np.linalg.norm(rows[:, :3], axis=0)
        if np.all(columns > 0):
            rotation = rows[:, :3] / columns
            if np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-4):
                matrix, origin = rotation, rows[:, 3]
                if not np.allclose(spacing, columns, rtol=1e-4):  # pixdim disagrees: the sform wins
                    spacing = columns
    if matrix is None and int(header["qform_code"]) > 0:
        qfac = -1.0 if pixdim[0] < 0 else 1.0
        matrix = quaternion_to_rotation(header["quatern_b"], header["quatern_c"], header["quatern_d"], qfac)
        origin = np.array([header["qoffset_x"], header["qoffset_y"], header["qoffset_z"]], dtype=float)
    if matrix is None:  # neither transform set (old files): ITK's choice, the identity in LPS at 0
        if int(header["sform_code"]) > 0:
            raise ValueError(f"{source}: the sform is sheared and there is no qform to fall back on")
        matrix, origin = LPS_TO_RAS.copy(), np.zeros(3)
    u, _, vt = np.linalg.svd(matrix)  # the nearest orthonormal matrix (float32 storage rounding)
    direction = LPS_TO_RAS @ (u @ vt)
    origin = LPS_TO_RAS @ origin
    if len(dims) == 2:
        planar = np.eye(3)
        planar[:2, :2] = direction[:2, :2]
        return Geometry(shape=dims[::-1], spacing=tuple(spacing[:2]), origin=(*origin[:2], 0.0),
                        direction=_orthonormal(planar))
    return Geometry(shape=dims[::-1], spacing=tuple(spacing), origin=tuple(origin), direction=direction)


def _orthonormal(matrix: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(matrix)
    return u @ vt
