"""Write one image array as a DICOM series (one file per slice, explicit VR little endian).

The writer fills the modules every image IOD shares (Patient, General Study, Patient Study, General Series,
Frame of Reference, General Equipment, General Image, Image Plane, Image Pixel, VOI LUT, SOP Common); the
caller adds the modality-specific attributes (MR Image, CT Image, DX modules, ...) through ``SeriesSpec``.
Projection images (2D geometry) get PatientOrientation instead of an Image Plane module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian
from pydicom.valuerep import format_number_as_ds

from engine.atomic import atomic_write
from engine.geometry import Geometry
from training.phantoms.identity import StudyContext

MANUFACTURER = "Sightline Phantoms"
SOFTWARE_VERSION = "sightline-phantoms 1.0"
_PATIENT_LETTER = {"S": "H", "I": "F"}  # PatientOrientation says head/feet where LPS letters say S/I


@dataclass(frozen=True)
class SeriesSpec:
    """What differs between series: modality, SOP class, numbering, display window, extra attributes."""

    modality: str
    sop_class_uid: str
    series_number: int
    description: str
    body_part: str
    model_name: str
    window: tuple[float, float] | None = None  # centre, width (in rescaled units)
    bits_stored: int = 12
    attributes: dict[str, Any] = field(default_factory=dict)  # keyword -> value, set on every instance


def ds_value(value: float) -> str:
    """A decimal string (DS) of at most 16 characters."""
    return format_number_as_ds(float(value))


def write_series(pixels: np.ndarray, geometry: Geometry, study: StudyContext, spec: SeriesSpec,
                 folder: str | Path) -> list[Path]:
    """Write ``pixels`` (uint16; (z, y, x) or (y, x)) as a DICOM series into ``folder``; returns the files."""
    if pixels.dtype != np.uint16 or tuple(pixels.shape) != geometry.shape:
        raise ValueError(f"pixels must be uint16 with shape {geometry.shape}, "
                         f"got {pixels.dtype} {pixels.shape}")
    if int(pixels.max(initial=0)) >= 1 << spec.bits_stored:
        raise ValueError(f"pixel values exceed {spec.bits_stored} stored bits")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stack = pixels[None] if geometry.is_projection else pixels
    series_uid = study.uid("series", spec.series_number)
    ds = _base_dataset(study, spec, series_uid, geometry, stack.shape[1:])
    written = []
    for index, plane in enumerate(stack):
        instance_uid = study.uid("series", spec.series_number, "instance", index + 1)
        ds.file_meta.MediaStorageSOPInstanceUID = instance_uid
        ds.SOPInstanceUID = instance_uid
        ds.InstanceNumber = index + 1
        if not geometry.is_projection:
            position = geometry.voxel_to_patient(np.array([index, 0.0, 0.0]))
            ds.ImagePositionPatient = [ds_value(v) for v in position]
            ds.SliceLocation = ds_value(float(position @ geometry.direction[:, 2]))
        ds.PixelData = np.ascontiguousarray(plane, dtype="<u2").tobytes()
        path = folder / f"{spec.modality}{spec.series_number:03d}_{index + 1:04d}.dcm"
        with atomic_write(path) as handle:
            ds.save_as(handle, enforce_file_format=True)
        written.append(path)
    return written


def _base_dataset(study: StudyContext, spec: SeriesSpec, series_uid: str, geometry: Geometry,
                  plane_shape: tuple[int, int]) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = spec.sop_class_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    # SOP Common
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = spec.sop_class_uid
    ds.InstanceCreationDate, ds.InstanceCreationTime = study.study_date, study.study_time
    # Patient / Patient Study
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.IssuerOfPatientID = study.institution
    ds.PatientBirthDate = study.birth_date
    ds.PatientSex = study.sex
    ds.PatientAge = study.age
    # General Study
    ds.StudyInstanceUID = study.study_uid
    ds.StudyDate, ds.StudyTime = study.study_date, study.study_time
    ds.ReferringPhysicianName = study.referring_physician
    ds.StudyID = study.study_id
    ds.AccessionNumber = study.accession
    ds.StudyDescription = study.description
    # General Series
    ds.Modality = spec.modality
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = spec.series_number
    ds.SeriesDescription = spec.description
    ds.SeriesDate, ds.SeriesTime = study.study_date, study.study_time
    ds.BodyPartExamined = spec.body_part
    ds.OperatorsName = "Tech^Phantom"
    # Frame of Reference
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    # General Equipment
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = study.institution
    ds.InstitutionAddress = study.institution_address
    ds.StationName = study.station_name
    ds.ManufacturerModelName = spec.model_name
    ds.DeviceSerialNumber = f"SLP-{study.uid('device')[-6:]}"
    ds.SoftwareVersions = SOFTWARE_VERSION
    # General Image
    ds.ContentDate, ds.ContentTime = study.study_date, study.study_time
    ds.AcquisitionNumber = 1
    ds.BurnedInAnnotation = "NO"
    ds.ImageComments = "Synthetic phantom (Sightline); not patient data"
    # Image Plane (cross-sectional) or PatientOrientation (projection)
    sx, sy, sz = geometry.spacing
    ds.PixelSpacing = [ds_value(sy), ds_value(sx)]
    if geometry.is_projection:
        letters = geometry.orientation_letters()[:2]
        ds.PatientOrientation = [_PATIENT_LETTER.get(letter, letter) for letter in letters]
    else:
        ds.ImageOrientationPatient = [ds_value(v) for v in
                                      np.concatenate([geometry.direction[:, 0], geometry.direction[:, 1]])]
        ds.SliceThickness = ds_value(sz)
    # Image Pixel
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(plane_shape[0]), int(plane_shape[1])
    ds.BitsAllocated = 16
    ds.BitsStored = spec.bits_stored
    ds.HighBit = spec.bits_stored - 1
    ds.PixelRepresentation = 0
    # VOI LUT
    if spec.window is not None:
        ds.WindowCenter, ds.WindowWidth = ds_value(spec.window[0]), ds_value(spec.window[1])
    for keyword, value in spec.attributes.items():
        setattr(ds, keyword, value)
    return ds
