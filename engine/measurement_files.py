"""The reader's measurements and key images, kept per series in the user data folder.

One JSON file per SeriesInstanceUID (``<folder>/<uid>.json``), written atomically. It names the patient the
series belongs to, so a file never shows on another patient's images even if a UID were reused. Points are
patient coordinates (LPS, mm); key images are the acquired images' keys (:func:`image_key`: the
SOPInstanceUID, with the frame number for a frame of a multi-frame image), so that the stacks of a series
split into several (one file for all of them) never mix their key images.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_bytes
from engine.measurements import Measurement
from engine.series import image_key

__all__ = ["FORMAT_VERSION", "MeasurementFileError", "MeasurementFiles", "SeriesAnnotations", "image_key",
           "is_storable_uid"]

FORMAT_VERSION = 2  # 1 kept key images as slice indices of one stack: ambiguous in a split series
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class MeasurementFileError(ValueError):
    """A measurements file that cannot be used; the message names the file and the reason."""


@dataclass
class SeriesAnnotations:
    """What the reader added to one series."""

    measurements: list[Measurement] = field(default_factory=list)
    key_images: list[str] = field(default_factory=list)  # image keys (``image_key``) of the series, sorted
    skipped: list[str] = field(default_factory=list)  # records that could not be read, with the reason


def is_storable_uid(uid: str) -> bool:
    """Whether ``uid`` is a DICOM UID (digits and dots, at most 64 characters): only those name files."""
    return bool(uid) and len(uid) <= 64 and bool(_UID.match(uid))


class MeasurementFiles:
    """Per-series annotation files under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, series_uid: str) -> Path:
        if not is_storable_uid(series_uid):
            raise MeasurementFileError(f"{series_uid!r} is not a DICOM UID; nothing is stored for it")
        return self.folder / f"{series_uid}.json"

    def save(self, series_uid: str, patient_id: str, annotations: SeriesAnnotations) -> Path | None:
        """Write (or, when nothing is left, remove) the file of ``series_uid``; returns the path written."""
        path = self.path(series_uid)
        if not annotations.measurements and not annotations.key_images:
            path.unlink(missing_ok=True)
            return None
        record = {
            "format": FORMAT_VERSION,
            "series_uid": series_uid,
            "patient_id": patient_id,
            "measurements": [m.to_json() for m in annotations.measurements],
            "key_images": sorted(set(str(key) for key in annotations.key_images)),
        }
        atomic_write_bytes(path, json.dumps(record, indent=1).encode())
        return path

    def load(self, series_uid: str, patient_id: str) -> SeriesAnnotations:
        """The series' annotations (empty when none were saved). A file of another patient or series is
        refused with MeasurementFileError; single unreadable records are skipped and listed."""
        path = self.path(series_uid)
        if not path.exists():
            return SeriesAnnotations()
        try:
            record: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise MeasurementFileError(f"{path}: cannot be read ({error})") from error
        if not isinstance(record, dict) or record.get("series_uid") != series_uid:
            raise MeasurementFileError(f"{path}: it is not the measurements file of series {series_uid}")
        stored_patient = str(record.get("patient_id", ""))
        if stored_patient and patient_id and stored_patient != patient_id:
            raise MeasurementFileError(f"{path}: it belongs to patient {stored_patient!r}, not {patient_id!r}")
        annotations = SeriesAnnotations()
        for number, item in enumerate(record.get("measurements", []), start=1):
            try:
                annotations.measurements.append(Measurement.from_json(item))
            except (ValueError, TypeError, AttributeError) as error:
                annotations.skipped.append(f"{path}: measurement {number} skipped ({error})")
        keys = record.get("key_images", [])
        annotations.key_images = sorted({key for key in keys if isinstance(key, str) and key})
        unkeyed = [key for key in keys if not isinstance(key, str)]
        if unkeyed:  # a version-1 index cannot tell which stack of a split series it meant
            annotations.skipped.append(f"{path}: {len(unkeyed)} key image(s) saved as slice numbers without their "
                                       "image UID were not restored; flag them again")
        return annotations
