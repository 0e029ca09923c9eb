"""Read a CT series (DICOM folder / file / zip, or a NIfTI / MetaImage file) and an artery label map on
the same grid, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.geometry import Geometry
from engine.image_files import read_image_file
from engine.volume import Volume

from .rules import ARTERIES

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd")


class CalciumInputError(ValueError):
    """An input that cannot be scored; the message names the file and the reason."""


def is_image_file(path: Path) -> bool:
    """True for a NIfTI / MetaImage / NRRD file name."""
    return path.is_file() and any(path.name.lower().endswith(suffix) for suffix in IMAGE_SUFFIXES)


def load_ct(path: str | os.PathLike) -> Volume:
    """The CT at ``path`` in HU: an image file, or the only CT stack of a DICOM folder / file / zip."""
    source = Path(path)
    if not source.exists():
        raise CalciumInputError(f"{source}: no such file or folder")
    if is_image_file(source):
        array, geometry = _read_image(source)
        return Volume(array, geometry, modality="CT", meta={"source": str(source)})
    from engine.dicom.loader import LoadError, load_series
    from engine.dicom.scanner import scan

    stacks = [s for s in scan(source).series if s.modality.upper() == "CT" and len(s.shape) == 3]
    if len(stacks) != 1:
        raise CalciumInputError(f"{source}: expected exactly one CT volume, found {len(stacks)}")
    try:
        return load_series(stacks[0])
    except LoadError as error:
        raise CalciumInputError(f"{source}: {error}") from None


def load_artery_mask(path: str | os.PathLike, geometry: Geometry, tolerance_mm: float = 0.01) -> np.ndarray:
    """The artery label map at ``path`` (0 background, 1 LM, 2 LAD, 3 LCX, 4 RCA) as uint8 on ``geometry``."""
    source = Path(path)
    if not source.is_file():
        raise CalciumInputError(f"{source}: no such label file")
    array, mask_geometry = _read_image(source)
    if not mask_geometry.same_grid(geometry, tolerance_mm):
        raise CalciumInputError(
            f"{source}: the label map is not on the CT's grid (label map shape {mask_geometry.shape}, spacing "
            f"{_fmt(mask_geometry.spacing)}, origin {_fmt(mask_geometry.origin)}; CT shape {geometry.shape}, "
            f"spacing {_fmt(geometry.spacing)}, origin {_fmt(geometry.origin)})")
    if not np.allclose(array, np.rint(array)):
        raise CalciumInputError(f"{source}: label values must be integers")
    values = np.unique(array).astype(np.int64)
    unknown = sorted(set(values.tolist()) - {0, *ARTERIES})
    if unknown:
        raise CalciumInputError(f"{source}: unknown label values {unknown} (expected 0 background, "
                                + ", ".join(f"{v} {n}" for v, n in ARTERIES.items()) + ")")
    return array.astype(np.uint8)


def _read_image(source: Path) -> tuple[np.ndarray, Geometry]:
    try:
        array, geometry = read_image_file(source)
    except ValueError as error:
        raise CalciumInputError(str(error)) from None
    if geometry.is_projection:
        raise CalciumInputError(f"{source}: expected a single-channel 3D image")
    return array, geometry


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"
