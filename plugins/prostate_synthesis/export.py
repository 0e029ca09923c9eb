"""Save a synthesis result as a new, clearly SYNTHETIC series: DICOM MR (one file per slice) or NIfTI.

DICOM: a new patient/study/series/frame of reference (fresh UIDs), PatientID and PatientName marked
SYNTHETIC, SeriesDescription beginning with "SYNTHETIC", ImageType DERIVED\\SECONDARY, ContentCreatorName
naming the model, the prompt class and model hashes in ImageComments/DerivationDescription. NIfTI carries
no such attributes, so a JSON sidecar (<name>.json) records the same facts next to the image.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from engine.ai.dicom_common import MANUFACTURER, SOFTWARE_VERSION, dataset_bytes
from engine.atomic import atomic_write_bytes
from engine.nifti import write_nifti
from engine.paths import data_dir

from .types import SynthesisResult

SYNTHETIC_PATIENT_ID = "SYNTHETIC"
SYNTHETIC_PATIENT_NAME = "SYNTHETIC^PHANTOM"


def series_description(result: SynthesisResult) -> str:
    """e.g. "SYNTHETIC T2 prostate (CCELLA, positive)" (at most 64 characters, the LO limit)."""
    return f"SYNTHETIC T2 prostate ({result.model_name}, {result.class_used})"[:64]


def provenance_facts(result: SynthesisResult) -> dict:
    """The JSON-ready facts recorded with every saved synthetic image."""
    provenance = result.provenance
    return {
        "synthetic": True,
        "not_for_clinical_use": True,
        "model": result.model_name,
        "plugin_id": provenance.plugin_id if provenance else "",
        "plugin_version": provenance.plugin_version if provenance else "",
        "models_sha256": dict(provenance.models) if provenance else {},
        "class_mode": result.request.class_mode,
        "predicted_class": result.predicted_class,
        "probabilities": result.probabilities,
        "class_confidence": result.class_confidence,
        "prompt_domain_score": result.domain.score if result.domain else None,
        "prompt_domain_threshold": result.domain.threshold if result.domain else None,
        "warnings": list(result.warnings),
        "class_used": result.class_used,
        "predicted_side": result.predicted_side,
        "side_probabilities": result.side_probabilities,
        "predicted_level": result.predicted_level,
        "level_probabilities": result.level_probabilities,
        "seed": int(result.request.seed),
        "steps": int(result.request.steps),
        "guidance": float(result.request.guidance),
        "prompt": result.request.prompt,
    }


def write_synthetic_nifti(result: SynthesisResult, path: str | os.PathLike) -> tuple[Path, Path]:
    """The volume as NIfTI plus its JSON sidecar; returns both paths."""
    image = write_nifti(result.volume, path)
    name = image.name.removesuffix(".gz").removesuffix(".nii")
    sidecar = image.with_name(name + ".json")
    atomic_write_bytes(sidecar, json.dumps(provenance_facts(result), indent=2).encode())
    return image, sidecar


def library_folder(result: SynthesisResult, root: str | os.PathLike | None = None) -> Path:
    """A new folder for a generated series under ``root`` (default: the per-user data folder's synthetic/),
    named by time, seed and class, where the app writes it so the catalog lists it like any other series."""
    base = Path(root) if root is not None else data_dir() / "synthetic"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    base.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        folder = base / f"{stamp}-{attempt:03d}_seed{int(result.request.seed)}_{result.class_used}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"no free folder name under {base} for {stamp}")


def write_synthetic_dicom(result: SynthesisResult, folder: str | os.PathLike) -> list[Path]:
    """One MR Image Storage file per slice in ``folder`` (created); returns the paths in slice order."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    volume = result.volume
    array = np.asarray(volume.array)
    if array.ndim != 3 or array.dtype != np.uint16:
        raise ValueError(f"a synthetic MR series needs a 3D uint16 volume, got {array.dtype} {array.shape}")
    now = datetime.now(UTC)
    shared = _series_dataset(result, now)
    paths = []
    for z in range(array.shape[0]):
        dataset = _slice_dataset(shared, volume, z, array[z])
        path = target / f"SYN_{z + 1:04d}.dcm"
        atomic_write_bytes(path, dataset_bytes(dataset))
        paths.append(path)
    return paths


def _series_dataset(result: SynthesisResult, now: datetime) -> Dataset:
    facts = provenance_facts(result)
    ds = Dataset()
    ds.SOPClassUID = MRImageStorage
    ds.Modality = "MR"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PatientID = SYNTHETIC_PATIENT_ID
    ds.PatientName = SYNTHETIC_PATIENT_NAME
    ds.PatientSex = "M"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = (generate_uid() for _ in range(3))
    ds.StudyID = "SYN"
    ds.SeriesNumber = 9001
    ds.StudyDescription = "SYNTHETIC prostate MRI (research, not for clinical use)"
    ds.SeriesDescription = series_description(result)
    ds.ContentCreatorName = f"{result.model_name}^{facts['plugin_id']}^{facts['plugin_version']}"
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = f"{facts['plugin_id']} {facts['plugin_version']}"[:64]
    ds.SoftwareVersions = SOFTWARE_VERSION
    hashes = ", ".join(f"{name} sha256 {sha[:16]}" for name, sha in sorted(facts["models_sha256"].items()))
    ds.DerivationDescription = (f"SYNTHETIC: generated by {result.model_name} from a text prompt (seed "
                                f"{facts['seed']}, {facts['steps']} DDIM steps, guidance {facts['guidance']:g}); "
                                f"models {hashes}")[:1024]
    probabilities = ", ".join(f"{name} {p:.3f}" for name, p in result.probabilities.items())
    findings = [f"{name} {value}" for name, value in (("side", result.predicted_side),
                                                      ("level", result.predicted_level)) if value]
    side = f" Lesion read in the prompt: {', '.join(findings)}." if findings else ""
    low = ", low confidence" if result.class_confidence == "low" else ""
    warnings = "".join(f" WARNING: {text}." for text in result.warnings)
    ds.ImageComments = (f"SYNTHETIC - NOT FOR CLINICAL USE. Predicted class {result.predicted_class} "
                        f"({probabilities}{low}); class used {result.class_used} (mode {facts['class_mode']})."
                        f"{side}{warnings}")[:10240]
    ds.BurnedInAnnotation = "NO"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "SE", "NONE", "2D"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    return ds


def _slice_dataset(shared: Dataset, volume, z: int, pixels: np.ndarray) -> Dataset:
    ds = Dataset()
    ds.update(shared)
    geometry = volume.geometry
    sx, sy, sz = geometry.spacing
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceNumber = z + 1
    ds.ImagePositionPatient = [round(float(v), 4) for v in geometry.voxel_to_patient(np.array([z, 0.0, 0.0]))]
    ds.ImageOrientationPatient = [round(float(v), 6) for v in geometry.direction[:, :2].T.ravel()]
    ds.PixelSpacing = [float(sy), float(sx)]
    ds.SliceThickness = float(sz)
    ds.SpacingBetweenSlices = float(sz)
    ds.SliceLocation = float(ds.ImagePositionPatient[2])
    ds.Rows, ds.Columns = pixels.shape
    ds.WindowCenter = int(volume.meta.get("window_center", 1000))
    ds.WindowWidth = int(volume.meta.get("window_width", 2000))
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds
