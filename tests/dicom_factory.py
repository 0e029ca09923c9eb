"""A valid synthetic CT series built with pydicom, shared by the tests that need source DICOM datasets
(SEG / SR exports, correction SEGs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from engine.geometry import Geometry, direction_from_image_orientation

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def synthetic_ct_series(
    n_slices: int,
    rows: int,
    columns: int,
    spacing: Sequence[float],
    origin: Sequence[float],
    orientation: Sequence[float] = AXIAL,
    seed: int = 0,
) -> tuple[list[Dataset], Geometry]:
    """CT Image Storage datasets (slices listed in reverse order, as files arrive) and their grid."""
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    direction = direction_from_image_orientation(orientation)
    geometry = Geometry(shape=(n_slices, rows, columns), spacing=spacing, origin=origin, direction=direction)
    rng = np.random.default_rng(seed)
    datasets = []
    for z in range(n_slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        sop = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.PatientName, ds.PatientID = "Phantom^Test", "PH001"
        ds.PatientBirthDate, ds.PatientSex = "19700101", "O"
        ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime = study, "20240102", "101500"
        ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "1", "A1"
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = series, 3, "CT"
        ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame, ""
        ds.Manufacturer = "Phantom"
        ds.InstanceNumber = z + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = list(orientation)
        position = geometry.voxel_to_patient(np.array([z, 0, 0]))
        ds.ImagePositionPatient = [round(float(v), 6) for v in position]
        ds.PixelSpacing = [spacing[1], spacing[0]]
        ds.SliceThickness = spacing[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = rows, columns
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        ds.KVP, ds.AcquisitionNumber = 120, 1
        ds.PixelData = rng.integers(0, 2000, (rows, columns), dtype=np.int16).tobytes()
        datasets.append(ds)
    return datasets[::-1], geometry
