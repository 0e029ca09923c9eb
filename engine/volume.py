"""The image data model: a Volume and the overlays that share its geometry (LabelMap, Heatmap)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.geometry import Geometry


@dataclass(frozen=True)
class SourceIds:
    """The DICOM identifiers an image came from (empty strings when it did not come from DICOM)."""

    study_uid: str = ""
    series_uid: str = ""
    frame_of_reference_uid: str = ""


@dataclass
class Volume:
    """Pixel array (z, y, x) — or (y, x) for projection images — on a patient-space grid.

    CT is kept as int16 Hounsfield units whenever the rescale slope/intercept allow it exactly.
    Colour images (RGB secondary captures, ultrasound, photographs) carry one trailing samples axis:
    (..., 3) uint8; the geometry then describes the spatial axes only.
    ``meta`` holds display facts from the header (window centre/width, patient name, ...).
    """

    array: np.ndarray
    geometry: Geometry
    modality: str = ""
    ids: SourceIds = field(default_factory=SourceIds)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        spatial = tuple(self.array.shape[: len(self.geometry.shape)])
        extra_axes = self.array.shape[len(self.geometry.shape):]
        if spatial != self.geometry.shape or extra_axes not in ((), (3,), (4,)):
            raise ValueError(f"array shape {self.array.shape} does not match geometry {self.geometry.shape}")

    @property
    def is_colour(self) -> bool:
        """True when the array has a trailing RGB(A) samples axis."""
        return self.array.ndim == len(self.geometry.shape) + 1

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.geometry.spacing

    @property
    def spacing_known(self) -> bool:
        """False when the in-plane pixel spacing was not in the header (the loader assumed 1 mm) or is not
        positive: sizes in mm would then be made up."""
        if self.meta.get("pixel_spacing_source") == "assumed":
            return False
        if any(str(w).startswith("no pixel spacing") for w in self.meta.get("warnings", [])):
            return False
        return all(math.isfinite(s) and s > 0 for s in self.spacing[:2])

    @property
    def origin(self) -> tuple[float, float, float]:
        return self.geometry.origin

    @property
    def direction(self) -> np.ndarray:
        return self.geometry.direction

    def voxel_to_patient(self, zyx: np.ndarray) -> np.ndarray:
        """LPS millimetres of array-order voxel indices."""
        return self.geometry.voxel_to_patient(zyx)

    def patient_to_voxel(self, lps: np.ndarray) -> np.ndarray:
        """Continuous array-order indices of LPS points."""
        return self.geometry.patient_to_voxel(lps)


@dataclass(frozen=True)
class CodedConcept:
    """A coded concept (e.g. SNOMED CT) as DICOM SEG / SR need it."""

    value: str
    scheme: str
    meaning: str


@dataclass(frozen=True)
class Label:
    """One entry of a label table: voxel value, name, RGB colour and an optional coded concept."""

    value: int
    name: str
    color: tuple[int, int, int] = (255, 0, 0)
    concept: CodedConcept | None = None


@dataclass
class LabelMap:
    """Integer label image on the same grid as its Volume; 0 is background."""

    array: np.ndarray
    geometry: Geometry
    labels: list[Label] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.array.dtype not in (np.uint8, np.uint16):
            raise TypeError(f"a label map must be uint8 or uint16, got {self.array.dtype}")
        if tuple(self.array.shape) != self.geometry.shape:
            raise ValueError(f"label map shape {self.array.shape} does not match geometry {self.geometry.shape}")
        values = [label.value for label in self.labels]
        if len(set(values)) != len(values) or 0 in values:
            raise ValueError("label values must be unique and non-zero")

    def label(self, value: int) -> Label:
        """The label table entry for ``value`` (KeyError if absent)."""
        for label in self.labels:
            if label.value == value:
                return label
        raise KeyError(f"no label with value {value}")

    def voxel_counts(self) -> dict[int, int]:
        """Number of voxels per label value present in the table."""
        counts = np.bincount(self.array.ravel(), minlength=max([0] + [lb.value for lb in self.labels]) + 1)
        return {label.value: int(counts[label.value]) for label in self.labels}


@dataclass
class Heatmap:
    """Float32 map in 0..1 (e.g. Grad-CAM or a probability) on the same grid as its Volume."""

    array: np.ndarray
    geometry: Geometry
    name: str = "heatmap"

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array, dtype=np.float32)
        if tuple(self.array.shape) != self.geometry.shape:
            raise ValueError(f"heatmap shape {self.array.shape} does not match geometry {self.geometry.shape}")
        if self.array.size and (np.nanmin(self.array) < 0 or np.nanmax(self.array) > 1):
            raise ValueError("heatmap values must lie in 0..1")
