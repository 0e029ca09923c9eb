"""NIfTI read/write through SimpleITK.

NIfTI stores RAS+ world coordinates; ITK (and so SimpleITK) converts them to LPS on read and back on
write, which is the frame our Geometry uses. So the sform/qform written here place every voxel at the
same physical point the DICOM header gave it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from engine.atomic import atomic_write_bytes
from engine.geometry import Geometry
from engine.volume import Heatmap, LabelMap, Volume

Image = Volume | LabelMap | Heatmap


def to_sitk(image: Image) -> sitk.Image:
    """A SimpleITK image with the same voxels, spacing, origin and direction (LPS)."""
    array = image.array
    if image.geometry.is_projection:
        array = array[None, ...]
    itk = sitk.GetImageFromArray(np.ascontiguousarray(array))
    itk.SetSpacing(image.geometry.spacing)
    itk.SetOrigin(image.geometry.origin)
    itk.SetDirection(tuple(image.geometry.direction.ravel()))
    return itk


def geometry_from_sitk(itk: sitk.Image) -> Geometry:
    """Our Geometry for a 2D or 3D SimpleITK image."""
    dimension = itk.GetDimension()
    if dimension == 2:
        spacing = (*itk.GetSpacing(), 1.0)
        origin = (*itk.GetOrigin(), 0.0)
        direction = np.eye(3)
        direction[:2, :2] = np.asarray(itk.GetDirection()).reshape(2, 2)
        shape = itk.GetSize()[::-1]
    elif dimension == 3:
        spacing, origin = itk.GetSpacing(), itk.GetOrigin()
        direction = np.asarray(itk.GetDirection()).reshape(3, 3)
        shape = itk.GetSize()[::-1]
    else:
        raise ValueError(f"only 2D and 3D images are supported, got {dimension}D")
    return Geometry(shape=tuple(shape), spacing=spacing, origin=origin, direction=direction)


def write_nifti(image: Image, path: str | os.PathLike) -> Path:
    """Write ``image`` as NIfTI (.nii or .nii.gz) atomically; returns the path."""
    target = Path(path)
    if not (target.name.endswith(".nii") or target.name.endswith(".nii.gz")):
        raise ValueError(f"{target}: a NIfTI file name must end in .nii or .nii.gz")
    suffix = ".nii.gz" if target.name.endswith(".nii.gz") else ".nii"
    with tempfile.TemporaryDirectory(dir=target.parent if target.parent.exists() else None) as scratch:
        scratch_file = Path(scratch) / f"image{suffix}"
        sitk.WriteImage(to_sitk(image), str(scratch_file), useCompression=suffix == ".nii.gz")
        atomic_write_bytes(target, scratch_file.read_bytes())
    return target


def read_nifti(path: str | os.PathLike, modality: str = "") -> Volume:
    """Read a 3D (or 2D) NIfTI file as a Volume in LPS; 4D files are refused with a clear error."""
    source = Path(path)
    try:
        itk = sitk.ReadImage(str(source))
    except RuntimeError as error:
        raise ValueError(f"{source}: not a readable NIfTI file ({str(error).strip().splitlines()[-1]})") from None
    if itk.GetDimension() not in (2, 3) or itk.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"{source}: only single-channel 2D/3D images are supported")
    array = sitk.GetArrayFromImage(itk)
    return Volume(array=array, geometry=geometry_from_sitk(itk), modality=modality,
                  meta={"source": str(source)})
