"""Phantom CT studies of one patient for comparison reading: a current and a prior with their own
FrameOfReferenceUIDs, the patient lying at a known offset in the prior's frame, other slice spacings.

Anatomy (patient-fixed, mm): a 60 mm water cylinder along z, a 300 HU ball, and a "ruler" rod whose value is
``RULER_HU_PER_MM`` times the anatomical z — so the grey value in the rod tells which anatomy a slice shows.
A study whose frame sees the patient shifted by ``shift`` holds anatomy ``a`` at LPS ``a + shift``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

RULER_XY = np.array([-30.0, 20.0])  # anatomical x, y of the ruler rod
RULER_RADIUS = 5.0
RULER_HU_PER_MM = 10.0
BALL = np.array([25.0, -10.0, 12.0])
PATIENT = {"PatientName": "Compare^Phantom", "PatientID": "CMP-001", "PatientBirthDate": "19600101",
           "PatientSex": "O"}


@dataclass(frozen=True)
class PhantomStudy:
    folder: Path
    study_uid: str
    series_uid: str
    frame_uid: str
    shift: np.ndarray  # LPS of anatomy (0, 0, 0) in this study's frame
    slice_mm: float
    z_first: float  # LPS z of the first slice


def anatomy_z(value_hu: float) -> float:
    """The anatomical z (mm) a ruler-rod grey value stands for."""
    return value_hu / RULER_HU_PER_MM


def write_ct_study(folder: Path, *, date: str, shift: tuple[float, float, float], slice_mm: float,
                   n_slices: int, z_first: float, description: str = "Chest 2.5 mm", size: int = 96,
                   pixel_mm: float = 2.0, body_part: str = "CHEST", patient: dict | None = None,
                   frame_uid: str | None = None) -> PhantomStudy:
    """Write one axial CT series (one file per slice) of the phantom patient."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid, series_uid = generate_uid(), generate_uid()
    frame_uid = frame_uid or generate_uid()
    offset = np.asarray(shift, float)
    half = (size - 1) / 2 * pixel_mm
    xs = -half + np.arange(size) * pixel_mm  # LPS x of the columns, y of the rows
    lx, ly = np.meshgrid(xs - offset[0], xs - offset[1])  # anatomical x, y of each pixel
    for index in range(n_slices):
        z = z_first + index * slice_mm
        az = z - offset[2]
        pixels = np.full((size, size), -1000.0)
        pixels[lx**2 + ly**2 <= 60.0**2] = 20.0
        pixels[(lx - BALL[0]) ** 2 + (ly - BALL[1]) ** 2 + (az - BALL[2]) ** 2 <= 10.0**2] = 300.0
        pixels[(lx - RULER_XY[0]) ** 2 + (ly - RULER_XY[1]) ** 2 <= RULER_RADIUS**2] = RULER_HU_PER_MM * az
        ds = _slice(study_uid, series_uid, frame_uid, index, date, description, body_part, patient or PATIENT)
        ds.ImagePositionPatient = [float(-half), float(-half), float(z)]
        ds.PixelSpacing = [pixel_mm, pixel_mm]
        ds.SliceThickness = slice_mm
        ds.Rows = ds.Columns = size
        ds.PixelData = (np.rint(pixels) + 1024).astype(np.int16).tobytes()
        ds.save_as(folder / f"ct{index:04d}.dcm", enforce_file_format=True)
    return PhantomStudy(folder, study_uid, series_uid, frame_uid, offset, slice_mm, z_first)


def _slice(study_uid: str, series_uid: str, frame_uid: str, index: int, date: str, description: str,
           body_part: str, patient: dict) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword, value in patient.items():
        setattr(ds, keyword, value)
    ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study_uid, date, "090000"
    ds.StudyDescription, ds.AccessionNumber, ds.StudyID = "CT CHEST", f"ACC{date}", "1"
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = series_uid, 2, "CT"
    ds.SeriesDescription, ds.BodyPartExamined = description, body_part
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame_uid, ""
    ds.InstanceNumber = index + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
    ds.WindowCenter, ds.WindowWidth = 40, 400
    return ds


# The pair of the acceptance test: the prior's frame sees the patient 12 mm left, 8 mm anterior and
# 37.5 mm further head-wards, with 3 mm slices instead of 2.5 mm.
PRIOR_SHIFT = (12.0, -8.0, 37.5)


def current_and_prior(root: Path) -> tuple[PhantomStudy, PhantomStudy]:
    current = write_ct_study(root / "current", date="20250310", shift=(0.0, 0.0, 0.0), slice_mm=2.5,
                             n_slices=40, z_first=-50.0)
    prior = write_ct_study(root / "prior", date="20230905", shift=PRIOR_SHIFT, slice_mm=3.0, n_slices=36,
                           z_first=-20.0, description="Chest 3 mm")
    return current, prior
