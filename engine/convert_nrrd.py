"""NRRD (format version 4) writer for a Volume: the header as text, the voxels raw or gzip-compressed.

Geometry goes into ``space: left-posterior-superior`` (DICOM patient coordinates, the frame of our
Geometry, so nothing is flipped), ``space origin`` (the centre of the first voxel) and ``space directions``
(one vector per image axis: the axis' unit direction times its spacing, in mm), as 3D Slicer and ITK
write them. Arrays are (z, y, x) in C order, so x varies fastest: NRRD's first axis is x, which means the
data block is the array's bytes as they are. A colour volume's trailing samples axis becomes NRRD's first
axis, of kind ``RGB-color`` (or ``RGBA-color``) with direction ``none``. A projection image (y, x) is
written as one slice, like the NIfTI writer does.

Specification: http://teem.sourceforge.net/nrrd/format.html
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write
from engine.volume import Volume

NRRD_TYPES = {
    np.dtype(np.int8): "int8",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.int16): "int16",
    np.dtype(np.uint16): "uint16",
    np.dtype(np.int32): "int32",
    np.dtype(np.uint32): "uint32",
    np.dtype(np.int64): "int64",
    np.dtype(np.uint64): "uint64",
    np.dtype(np.float32): "float",
    np.dtype(np.float64): "double",
}
GZIP_LEVEL = 6


def nrrd_header(volume: Volume, compressed: bool) -> str:
    """The text header (ending with the blank line) for ``volume``."""
    array = volume.array
    dtype = array.dtype.newbyteorder("=")
    if dtype not in NRRD_TYPES:
        raise ValueError(f"NRRD cannot store {array.dtype} voxels")
    geometry = volume.geometry
    nx, ny = geometry.shape[-1], geometry.shape[-2]
    nz = 1 if geometry.is_projection else geometry.shape[0]
    vectors = geometry.direction * np.asarray(geometry.spacing)[None, :]  # columns: x, y, z axis vectors
    sizes = [nx, ny, nz]
    directions = [_vector(vectors[:, axis]) for axis in range(3)]
    kinds = ["domain", "domain", "domain"]
    if volume.is_colour:
        samples = array.shape[-1]
        sizes.insert(0, samples)
        directions.insert(0, "none")
        kinds.insert(0, "RGB-color" if samples == 3 else "RGBA-color")
    lines = [
        "NRRD0004",
        "# Complete NRRD file format specification at:",
        "# http://teem.sourceforge.net/nrrd/format.html",
        f"type: {NRRD_TYPES[dtype]}",
        f"dimension: {len(sizes)}",
        "space: left-posterior-superior",
        f"sizes: {' '.join(str(int(n)) for n in sizes)}",
        f"space directions: {' '.join(directions)}",
        f"kinds: {' '.join(kinds)}",
    ]
    if dtype.itemsize > 1:
        lines.append("endian: little")
    lines += [
        f"encoding: {'gzip' if compressed else 'raw'}",
        f"space origin: {_vector(np.asarray(geometry.origin))}",
        "space units: \"mm\" \"mm\" \"mm\"",
    ]
    return "\n".join(lines) + "\n\n"


def write_nrrd(volume: Volume, path: str | os.PathLike, compressed: bool = True) -> Path:
    """Write ``volume`` as a single-file NRRD (``.nrrd``) atomically; returns the path."""
    target = Path(path)
    if not target.name.endswith(".nrrd"):
        raise ValueError(f"{target}: an NRRD file name must end in .nrrd")
    header = nrrd_header(volume, compressed).encode("ascii")
    array = np.ascontiguousarray(volume.array, dtype=volume.array.dtype.newbyteorder("<"))
    if volume.geometry.is_projection:
        array = array[None, ...]
    with atomic_write(target) as handle:
        handle.write(header)
        if compressed:
            with gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as packed:
                for plane in array:  # one slice at a time: no second copy of a large volume
                    packed.write(plane.tobytes())
        else:
            for plane in array:
                handle.write(plane.tobytes())
    return target


def _vector(values: np.ndarray) -> str:
    """``(a,b,c)`` with every digit a double holds, so that the geometry round-trips exactly."""
    return "(" + ",".join(repr(float(v)) for v in values) + ")"
