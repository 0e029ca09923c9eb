"""Small synthetic CT series for the networking tests (32x32 int16 slices with PHI-like patient tags)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "PHI-12345"


def ct_slice(study_uid: str, series_uid: str, index: int, size: int = 32, series_number: int = 1) -> Dataset:
    """One CT slice whose pixels encode its index (so byte comparisons catch mix-ups)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[study_uid, "frame of reference"])
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyDate = "20240102"
    ds.StudyTime = "101010"
    ds.AccessionNumber = "ACC42"
    ds.StudyDescription = "Net test"
    ds.InstitutionName = "General Hospital"
    ds.Modality = "CT"
    ds.SeriesNumber = series_number
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = [0.0, 0.0, float(index) * 2.0]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 2.0
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    rng = np.random.default_rng(zlib.crc32(f"{series_uid}/{index}".encode()))
    pixels = rng.integers(-1000, 2000, size=(size, size), dtype=np.int16)
    pixels[0, 0] = index
    ds.PixelData = pixels.tobytes()
    return ds


def write_series(
    folder: Path, n_slices: int, study_uid: str | None = None, series_number: int = 1, size: int = 32
) -> list[Path]:
    """Write one series of ``n_slices`` files into ``folder``; returns the paths in slice order."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    paths = []
    for index in range(n_slices):
        ds = ct_slice(study_uid, series_uid, index, size, series_number)
        path = folder / f"slice{index:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
