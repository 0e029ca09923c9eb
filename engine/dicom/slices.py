"""Turn header records into positioned slices and check the geometry of a sorted stack of them.

A slice is one 2D image with a known position and orientation: a single-frame instance, one frame of an
enhanced multi-frame object (functional groups), or one frame of a legacy multi-frame object whose
GridFrameOffsetVector places its frames (RT Dose).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.dicom.header import HeaderRecord
from engine.geometry import Geometry, direction_from_image_orientation, float3

GAP_FACTOR = 1.5  # a step this many times the median spacing means missing slices
SPACING_TOLERANCE_MM = 0.01
SPACING_TOLERANCE_FRACTION = 0.01
TILT_TOLERANCE_DEG = 0.1


@dataclass
class Slice:
    """One positioned 2D image: ``frame`` of ``record``."""

    record: HeaderRecord
    frame: int
    position: np.ndarray
    orientation: tuple[float, ...]
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing)
    thickness: float | None
    rescale: tuple[float, float] | None
    keys: dict[str, str] = field(default_factory=dict)  # attributes that may tell stacks apart

    @property
    def localizer(self) -> bool:
        return "LOCALIZER" in self.record.image_type

    @property
    def order(self) -> tuple[int, int]:
        """Acquisition order: InstanceNumber, then frame."""
        return (self.record.instance.instance_number or 0, self.frame)


def slices_of(record: HeaderRecord) -> list[Slice] | None:
    """The positioned slices of ``record``, or None when its frames have no usable position."""
    if record.is_enhanced:
        return _enhanced_slices(record)
    instance = record.instance
    if instance.position is None or instance.orientation is None:
        return None
    if instance.frames == 1:
        return [_slice(record, 0, np.asarray(instance.position), instance.orientation)]
    offsets = record.grid_frame_offsets
    if offsets is None:
        return None
    normal = direction_from_image_orientation(instance.orientation)[:, 2]
    base = offsets[0] if offsets[0] != 0 else 0.0  # non-zero first value: absolute offsets (C.8.8.3.2)
    return [
        _slice(record, frame, np.asarray(instance.position) + (offset - base) * normal, instance.orientation)
        for frame, offset in enumerate(offsets)
    ]


def _slice(record: HeaderRecord, frame: int, position: np.ndarray, orientation: tuple[float, ...]) -> Slice:
    return Slice(
        record=record,
        frame=frame,
        position=position,
        orientation=orientation,
        pixel_spacing=record.pixel_spacing,
        thickness=record.slice_thickness,
        rescale=record.rescale,
        keys=dict(record.split_keys),
    )


def _enhanced_slices(record: HeaderRecord) -> list[Slice] | None:
    slices = []
    for frame, plane in enumerate(record.frame_planes):
        if plane.position is None or plane.orientation is None:
            return None
        slices.append(
            Slice(
                record=record,
                frame=frame,
                position=np.asarray(plane.position),
                orientation=plane.orientation,
                pixel_spacing=plane.pixel_spacing or record.pixel_spacing,
                thickness=plane.slice_thickness or record.slice_thickness,
                rescale=plane.rescale or record.rescale,
                keys={**record.split_keys, **plane.split_keys},
            )
        )
    return slices


def same_orientation(a: tuple[float, ...], b: tuple[float, ...], tolerance: float = 1e-3) -> bool:
    """True when two ImageOrientationPatient values agree within ``tolerance`` (direction cosines)."""
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= tolerance


def normal_of(orientation: tuple[float, ...]) -> np.ndarray:
    return direction_from_image_orientation(orientation)[:, 2]


def sort_slices(slices: list[Slice]) -> list[Slice]:
    """Slices in ascending order along the slice normal (row x column) of the first slice."""
    normal = normal_of(slices[0].orientation)
    return sorted(slices, key=lambda s: (float(s.position @ normal), s.order))


@dataclass
class StackGeometry:
    """The grid of a sorted stack plus everything found wrong with it."""

    geometry: Geometry
    warnings: list[str]
    extra: dict[str, object]


def stack_geometry(slices: list[Slice], modality: str) -> StackGeometry:
    """Geometry of slices already sorted along the normal, with a warning for each irregularity."""
    first = slices[0]
    direction = direction_from_image_orientation(first.orientation)
    distances = np.array([float(s.position @ direction[:, 2]) for s in slices])
    warnings: list[str] = []
    extra: dict[str, object] = {"positions": [[round(float(v), 4) for v in s.position] for s in slices]}
    row_spacing, column_spacing = _in_plane_spacing(slices, warnings)
    if len(slices) == 1:
        slice_spacing = _single_slice_spacing(first, warnings)
    else:
        slice_spacing = _slice_spacing(distances, warnings, extra)
        _check_tilt(slices, direction[:, 2], modality, warnings, extra)
    rescales = [s.rescale for s in slices]
    if any(r is not None for r in rescales):
        extra["rescale"] = [list(r) if r else [1.0, 0.0] for r in rescales]
    geometry = Geometry(
        shape=(len(slices), first.record.instance.rows, first.record.instance.columns),
        spacing=(column_spacing, row_spacing, slice_spacing),
        origin=float3(first.position),
        direction=direction,
    )
    return StackGeometry(geometry, warnings, extra)


def _in_plane_spacing(slices: list[Slice], warnings: list[str]) -> tuple[float, float]:
    spacings = {s.pixel_spacing for s in slices}
    known = [s for s in spacings if s is not None]
    if not known:
        warnings.append("no pixel spacing: PixelSpacing is missing, 1 mm assumed in-plane")
        return 1.0, 1.0
    if len(spacings) > 1:
        listed = ", ".join(f"{r:g} x {c:g}" for r, c in sorted(known))
        warnings.append(f"pixel spacing varies between slices ({listed} mm); the first slice's is used")
    chosen = slices[0].pixel_spacing or known[0]
    return float(chosen[0]), float(chosen[1])


def _single_slice_spacing(slice_: Slice, warnings: list[str]) -> float:
    spacing = slice_.record.spacing_between_slices or slice_.thickness
    if spacing:
        warnings.append(f"single slice: a one-slice volume; slice spacing {spacing:g} mm from the header")
        return float(spacing)
    warnings.append("single slice: a one-slice volume; slice spacing 1 mm assumed")
    return 1.0


def _slice_spacing(distances: np.ndarray, warnings: list[str], extra: dict[str, object]) -> float:
    steps = np.diff(distances)
    median = float(np.median(steps))
    if median <= 1e-3:
        warnings.append(f"non-uniform spacing: slices are {median:.4f} mm apart (median); 1 mm assumed")
        return 1.0
    gap_indices = np.flatnonzero(steps > GAP_FACTOR * median)
    if gap_indices.size:
        gaps = [{"after_slice": int(i), "missing": max(1, round(steps[i] / median) - 1)} for i in gap_indices]
        extra["gaps"] = gaps
        where = "; ".join(
            f"about {g['missing']} between slices {g['after_slice']} and {g['after_slice'] + 1} "
            f"({distances[i]:.2f} to {distances[i + 1]:.2f} mm along the normal)"
            for i, g in zip(gap_indices, gaps, strict=True)
        )
        total = sum(int(g["missing"]) for g in gaps)
        warnings.append(
            f"missing slices: {total} slice(s) missing: {where}; the volume is not padded, so slices past "
            "a gap are drawn closer than they are"
        )
    regular = np.delete(steps, gap_indices)
    tolerance = max(SPACING_TOLERANCE_MM, SPACING_TOLERANCE_FRACTION * median)
    if regular.size and float(regular.max() - regular.min()) > tolerance:
        warnings.append(
            f"non-uniform spacing: slice spacing varies from {regular.min():.3f} to {regular.max():.3f} mm; "
            f"the volume uses the median {median:.3f} mm"
        )
    return median


def _check_tilt(
    slices: list[Slice], normal: np.ndarray, modality: str, warnings: list[str], extra: dict[str, object]
) -> None:
    """Warn when the line through the slice positions is not parallel to the slice normal."""
    axis = slices[-1].position - slices[0].position
    length = float(np.linalg.norm(axis))
    if length < 1e-6:
        return
    angle = math.degrees(math.acos(min(1.0, abs(float(axis @ normal)) / length)))
    if angle <= TILT_TOLERANCE_DEG:
        return
    shift = float(np.linalg.norm(axis - (axis @ normal) * normal))
    extra["tilt_deg"] = round(angle, 3)
    message = (
        f"gantry tilt: the stack axis is {angle:.1f} degrees from the slice normal (non-orthogonal stack)"
    )
    tilt = slices[0].record.gantry_tilt
    if modality == "CT":
        message += (
            f", GantryDetectorTilt {tilt:g} degrees" if tilt is not None else ", GantryDetectorTilt absent"
        )
    warnings.append(
        f"{message}; the volume is not resampled, so the last slice is drawn {shift:.1f} mm off its position"
    )
