"""What a header-only scan finds: files, instances, series (stacks) and per-file errors.

These records are the contract between the scanner (engine.dicom.scanner), the loader (engine.dicom.loader)
and the catalog (engine.catalog). They hold header facts only, never pixels.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.geometry import Geometry


@dataclass(frozen=True)
class FileRef:
    """A DICOM file on disk, or a member of a zip archive (``member`` set, ``path`` is the zip)."""

    path: str
    member: str | None = None

    def display(self) -> str:
        """A human-readable location, used in error messages and the catalog."""
        return f"{self.path}::{self.member}" if self.member else self.path

    @classmethod
    def parse(cls, text: str) -> FileRef:
        """Inverse of :meth:`display`."""
        path, sep, member = text.partition("::")
        return cls(path, member if sep else None)

    def read_bytes(self) -> bytes:
        """The file's bytes (from the archive for zip members)."""
        if self.member is None:
            return Path(self.path).read_bytes()
        with zipfile.ZipFile(self.path) as archive:
            return archive.read(self.member)


@dataclass
class InstanceHeader:
    """Header facts of one image instance (one file; multi-frame files have ``frames`` > 1)."""

    ref: FileRef
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    rows: int
    columns: int
    frames: int = 1
    instance_number: int | None = None
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, ...] | None = None
    # The loader's pixel facts (engine.dicom.pixels.InstancePixels) gathered during the header pass, so
    # loading right after a scan never parses the header twice. In memory only: the catalog does not
    # store it, and the loader reads the header itself when it is absent.
    pixels: Any = field(default=None, compare=False, repr=False)


def image_key(sop_instance_uid: str, frame: int = 0, frames: int = 1) -> str:
    """The key of one acquired image: its SOPInstanceUID, or 'UID#n' for frame n (1-based) of a multi-frame
    instance (reader annotations such as key images name images by it)."""
    return sop_instance_uid if frames <= 1 else f"{sop_instance_uid}#{frame + 1}"


@dataclass
class SeriesInfo:
    """One loadable stack: a whole DICOM series, or one part of a series that held several stacks."""

    series_uid: str
    study_uid: str
    modality: str = ""
    description: str = ""
    series_number: int | None = None
    frame_of_reference_uid: str = ""
    patient: dict[str, str] = field(default_factory=dict)  # PatientID, PatientName, PatientBirthDate, PatientSex
    study: dict[str, str] = field(default_factory=dict)  # StudyDate, StudyTime, StudyDescription, AccessionNumber
    stack_index: int = 0  # 0 unless the series was split into several stacks
    instances: list[InstanceHeader] = field(default_factory=list)  # sorted along the slice normal
    # For multi-frame stacks: (instance index, frame index) of each slice in slice order. Empty means
    # "one frame per instance, in the order of ``instances``".
    frame_order: list[tuple[int, int]] = field(default_factory=list)
    shape: tuple[int, ...] = ()  # array order: (z, y, x) or (y, x)
    geometry: Geometry | None = None
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # loader hints (e.g. per-frame positions)

    @property
    def spacing(self) -> tuple[float, float, float] | None:
        return self.geometry.spacing if self.geometry else None

    def image_keys(self) -> list[str]:
        """The key (``image_key``) of the acquired image of each slice of the loaded stack, in slice order."""
        order = self.frame_order or [(index, 0) for index in range(len(self.instances))]
        return [image_key(self.instances[i].sop_instance_uid, frame, self.instances[i].frames) for i, frame in order]

    def to_json(self) -> dict[str, Any]:
        """The `sightline scan --json` record of this stack."""
        return {
            "series_uid": self.series_uid,
            "stack_index": self.stack_index,
            "study_uid": self.study_uid,
            "patient_id": self.patient.get("PatientID", ""),
            "modality": self.modality,
            "description": self.description,
            "series_number": self.series_number,
            "n_instances": len(self.instances),
            "shape": list(self.shape),
            "spacing": list(self.spacing) if self.spacing else None,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class FileError:
    """A file that could not be used, and why."""

    path: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class ScanResult:
    """Everything a scan found: loadable stacks plus per-file errors."""

    series: list[SeriesInfo] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"series": [s.to_json() for s in self.series], "errors": [e.to_json() for e in self.errors]}
