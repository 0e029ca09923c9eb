"""What DICOM SR and SEG exports share: matching source images to a grid, device and algorithm identity."""

from __future__ import annotations

import io
from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from engine.ai.result import Provenance
from engine.geometry import Geometry

MANUFACTURER = "Sightline"
SOFTWARE_VERSION = "0.1.0"
PRIVATE_SCHEME = "99SIGHTLINE"


class ExportError(ValueError):
    """An export that cannot be made from these inputs; the message says which input and why."""


def slice_order(sources: Sequence[Dataset], geometry: Geometry, tolerance: float = 0.01) -> list[Dataset]:
    """``sources`` in the grid's slice order (one image per slice, z = 0 first), after checking that each
    image's rows, columns, orientation and position lie on ``geometry`` (within ``tolerance`` voxels)."""
    if geometry.is_projection:
        if len(sources) != 1:
            raise ExportError(f"a projection image needs exactly one source image, got {len(sources)}")
        _check_plane(sources[0], geometry)
        return [sources[0]]
    by_slice: dict[int, Dataset] = {}
    for dataset in sources:
        _check_plane(dataset, geometry)
        index = geometry.patient_to_voxel(np.asarray(dataset.ImagePositionPatient, dtype=float))
        z = int(round(index[0]))
        if np.max(np.abs(index - (z, 0, 0))) > tolerance or not 0 <= z < geometry.shape[0]:
            position = list(dataset.ImagePositionPatient)
            raise ExportError(f"source image {dataset.SOPInstanceUID} at {position} is not on a slice of "
                              "the result's grid")
        if z in by_slice:
            raise ExportError(f"two source images on slice {z}: {by_slice[z].SOPInstanceUID}, "
                              f"{dataset.SOPInstanceUID}")
        by_slice[z] = dataset
    missing = [z for z in range(geometry.shape[0]) if z not in by_slice]
    if missing:
        raise ExportError(f"no source image for slice(s) {missing[:5]} of {geometry.shape[0]}")
    return [by_slice[z] for z in range(geometry.shape[0])]


def _check_plane(dataset: Dataset, geometry: Geometry) -> None:
    rows, columns = geometry.shape[-2:]
    if (int(dataset.Rows), int(dataset.Columns)) != (rows, columns):
        raise ExportError(f"source image {dataset.SOPInstanceUID} is {dataset.Rows}x{dataset.Columns}, "
                          f"the result's grid {rows}x{columns}")
    if geometry.is_projection or "ImageOrientationPatient" not in dataset:
        return
    orientation = np.asarray(dataset.ImageOrientationPatient, dtype=float).reshape(2, 3)
    if not np.allclose(orientation, geometry.direction[:, :2].T, atol=1e-3):
        raise ExportError(f"source image {dataset.SOPInstanceUID} is not oriented like the result's grid")


def device_uid(provenance: Provenance | None) -> str:
    """A UID that is the same for every export of one plugin version (the 'device' that observed)."""
    if provenance is None:
        return generate_uid(entropy_srcs=[MANUFACTURER, SOFTWARE_VERSION])
    return generate_uid(entropy_srcs=[MANUFACTURER, provenance.plugin_id, provenance.plugin_version])


def model_parameters(provenance: Provenance | None) -> dict[str, str]:
    """Algorithm parameters recorded in exports: each model's SHA-256."""
    if provenance is None:
        return {}
    return {f"model {name} sha256": sha for name, sha in sorted(provenance.models.items())}


def seg_algorithm(provenance: Provenance | None) -> hd.AlgorithmIdentificationSequence:
    """SEG AlgorithmIdentificationSequence: plugin name and version, AI family, model hashes."""
    name, version = _name_version(provenance)
    return hd.AlgorithmIdentificationSequence(
        name=name, family=codes.cid7162.ArtificialIntelligence, version=version, source=MANUFACTURER,
        parameters=model_parameters(provenance) or None,
    )


def sr_algorithm(provenance: Provenance | None) -> hd.sr.AlgorithmIdentification:
    """SR TID 4019 Algorithm Identification: plugin name and version, model hashes as parameters."""
    name, version = _name_version(provenance)
    parameters = [f"{key}={value}" for key, value in model_parameters(provenance).items()]
    return hd.sr.AlgorithmIdentification(name=name, version=version, parameters=parameters or None)


def _name_version(provenance: Provenance | None) -> tuple[str, str]:
    if provenance is None:
        return f"{MANUFACTURER} (unknown plugin)", "0"
    return provenance.plugin_id, provenance.plugin_version


def dataset_bytes(dataset: Dataset) -> bytes:
    """A DICOM file (preamble + meta header) of ``dataset`` as bytes, for atomic writing."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
