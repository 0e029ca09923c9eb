"""Label versions, MONAI Label style: the AI output kept as ``original`` (written once, read-only) and the
annotator's corrected map as ``final``, each with provenance. Nothing ever overwrites the original.

A version is ``<tag>.nii.gz`` (the voxels) plus ``<tag>.json`` (provenance, label table, exact geometry and
the voxels' SHA-256), both written atomically, the JSON last: a version whose JSON is missing or whose
voxels do not match their hash was interrupted and is refused with a clear error.
"""

from __future__ import annotations

import getpass
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.ai.result import LabelRegion, Provenance
from engine.ai.result_json import array_sha256, region_from_json, region_to_json
from engine.atomic import atomic_write_bytes
from engine.editing.codec import geometry_from_json, geometry_to_json, label_from_json, label_to_json
from engine.editing.naming import folder_name
from engine.editing.summary import ChangeSummary
from engine.nifti import read_nifti, write_nifti
from engine.paths import data_dir
from engine.volume import LabelMap

ORIGINAL, FINAL = "original", "final"


class VersionError(ValueError):
    """A version that cannot be written or read; the message names the file and the reason."""


@dataclass(frozen=True)
class VersionInfo:
    """Provenance of one version: who and when (UTC), which plugin/models made the AI original, the SHA-256
    of its voxels, the label regions the plugin defined (e.g. BraTS WT / TC / ET, JSON form), and for
    ``final`` the original it corrects and the change summary."""

    tag: str
    user: str
    time_utc: str
    source: str  # "ai" (a plugin's output) or "annotator"
    array_sha256: str
    plugin_id: str | None = None
    plugin_version: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    based_on_sha256: str | None = None
    summary: dict[str, Any] | None = None
    regions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def label_regions(self) -> list[LabelRegion]:
        """The label regions (unions of label values) the SEG export adds as segments."""
        return [region_from_json(item) for item in self.regions]

    def provenance(self) -> Provenance | None:
        """The AI provenance as engine.ai exports take it (None for a version with no plugin behind it)."""
        if self.plugin_id is None:
            return None
        return Provenance(
            plugin_id=self.plugin_id,
            plugin_version=self.plugin_version or "",
            models=dict(self.models),
            onnxruntime_version="",
            providers=[],
            started_utc=self.time_utc,
            duration_s=0.0,
        )


class VersionStore:
    """The versions of one label map (one study's segmentation) in ``folder``."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    @classmethod
    def for_key(cls, key: str) -> VersionStore:
        """The store of ``key`` (e.g. a study UID) under ``<user data>/labels/``."""
        return cls(data_dir() / "labels" / folder_name(key))

    def save_original(self, label_map: LabelMap, provenance: Provenance | None,
                      regions: Sequence[LabelRegion] = ()) -> VersionInfo:
        """Keep the AI output (and the label regions its plugin defined) as the read-only ``original``;
        refused if an original exists."""
        if (self.folder / f"{ORIGINAL}.json").exists():
            raise VersionError(f"{self.folder / ORIGINAL}.json: the original is kept once and never replaced")
        info = VersionInfo(
            tag=ORIGINAL,
            user=current_user(),
            time_utc=_now(),
            source="ai",
            array_sha256=array_sha256(label_map.array),
            plugin_id=provenance.plugin_id if provenance else None,
            plugin_version=provenance.plugin_version if provenance else None,
            models=dict(provenance.models) if provenance else {},
            regions=[region_to_json(region) for region in regions],
        )
        self._write(label_map, info)
        for suffix in (".nii.gz", ".json"):
            path = self.folder / f"{ORIGINAL}{suffix}"
            path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        return info

    def save_final(self, label_map: LabelMap, summary: ChangeSummary | None = None) -> VersionInfo:
        """Write (or replace) the annotator's ``final`` version, with the original it corrects if any."""
        original = self.info(ORIGINAL)
        info = VersionInfo(
            tag=FINAL,
            user=current_user(),
            time_utc=_now(),
            source="annotator",
            array_sha256=array_sha256(label_map.array),
            plugin_id=original.plugin_id if original else None,
            plugin_version=original.plugin_version if original else None,
            models=dict(original.models) if original else {},
            based_on_sha256=original.array_sha256 if original else None,
            summary=summary.to_json() if summary else None,
            regions=list(original.regions) if original else [],
        )
        self._write(label_map, info)
        return info

    def info(self, tag: str) -> VersionInfo | None:
        """The provenance of version ``tag``, or None if there is none."""
        path = self.folder / f"{tag}.json"
        if not path.exists():
            return None
        document = self._document(path)
        return VersionInfo(**{f.name: document[f.name] for f in fields(VersionInfo) if f.name in document})

    def load(self, tag: str) -> LabelMap | None:
        """Version ``tag`` (the original comes back read-only), or None if there is none."""
        path = self.folder / f"{tag}.json"
        if not path.exists():
            return None
        document = self._document(path)
        image = self.folder / f"{tag}.nii.gz"
        try:
            array = read_nifti(image).array
        except ValueError as error:
            raise VersionError(str(error)) from None
        array = np.ascontiguousarray(array, dtype=np.dtype(document["dtype"]))
        if array_sha256(array) != document["array_sha256"]:
            raise VersionError(f"{image}: the voxels do not match the SHA-256 in {path.name}")
        if tag == ORIGINAL:
            array.setflags(write=False)
        return LabelMap(
            array=array,
            geometry=geometry_from_json(document["geometry"]),
            labels=[label_from_json(item) for item in document["labels"]],
        )

    def working_copy(self) -> LabelMap | None:
        """A writable copy of the latest version (final, else original) to edit; None if there is none."""
        latest = self.load(FINAL) or self.load(ORIGINAL)
        if latest is None:
            return None
        return LabelMap(latest.array.copy(), latest.geometry, list(latest.labels))

    def _write(self, label_map: LabelMap, info: VersionInfo) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_nifti(label_map, self.folder / f"{info.tag}.nii.gz")
        document = {
            **info.to_json(),
            "dtype": label_map.array.dtype.str,
            "geometry": geometry_to_json(label_map.geometry),
            "labels": [label_to_json(label) for label in label_map.labels],
        }
        atomic_write_bytes(self.folder / f"{info.tag}.json", json.dumps(document, indent=1).encode())

    def _document(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise VersionError(f"{path}: unreadable version record ({error})") from None


def current_user() -> str:
    """The operating-system user name recorded as the author of a version."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
