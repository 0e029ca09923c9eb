"""Group header records into series and split each series into loadable stacks (one SeriesInfo each).

A series is split when its images differ in size or orientation, when a position holds several images
(echoes, phases, repeated acquisitions), and for localizers; projection images (DX, CR, MG, ...) and
multi-frame images without per-frame positions become one stack per instance. Every irregularity is
reported as a warning on the stack; the warning texts start with a short, stable tag (``"localizer: "``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from engine.dicom.header import HeaderRecord
from engine.dicom.pixels import unreadable_reason
from engine.dicom.slices import Slice, normal_of, same_orientation, slices_of, sort_slices, stack_geometry
from engine.geometry import Geometry, direction_from_image_orientation
from engine.series import FileError, SeriesInfo

PROJECTION_MODALITIES = frozenset(
    {"CR", "DX", "MG", "IO", "PX", "RG", "XA", "RF", "XC", "ES", "GM", "OP", "US"}
)
# Modalities whose position-less images of one size are still stacked (by InstanceNumber).
VOLUME_MODALITIES = frozenset({"CT", "MR", "PT"})
LOCALIZER_MODALITIES = frozenset({"CT", "MR"})
# Attributes tried, in order, to tell apart several stacks acquired at the same positions.
STACK_KEYS = (
    "StackID",
    "EchoNumbers",
    "EffectiveEchoTime",
    "AcquisitionNumber",
    "TemporalPositionIdentifier",
    "TemporalPositionIndex",
    "TriggerTime",
    "NominalCardiacTriggerDelayTime",
    "DiffusionBValue",
)


@dataclass
class _Stack:
    """A stack before it becomes a SeriesInfo: positioned slices, or records shown as 2D / 2D+time."""

    kind: str  # "volume" | "projection" | "cine"
    slices: list[Slice] = field(default_factory=list)
    records: list[HeaderRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    split: str = ""


def group_series(records: list[HeaderRecord]) -> tuple[list[SeriesInfo], list[FileError]]:
    """All stacks of all series in ``records``, plus the duplicate files that were left out."""
    groups: dict[tuple[str, str], list[HeaderRecord]] = defaultdict(list)
    for record in records:  # one series holds one modality; files that disagree are kept apart
        groups[(record.series_uid, record.modality)].append(record)
    modalities: dict[str, set[str]] = defaultdict(set)
    for uid, modality in groups:
        modalities[uid].add(modality)
    series: list[SeriesInfo] = []
    skipped: list[FileError] = []
    used: Counter[str] = Counter()
    for (uid, modality), members in groups.items():
        notes: list[str] = []
        stacks = build_stacks(_drop_duplicates(members, skipped, notes), first_index=used[uid])
        used[uid] += len(stacks)
        for info in stacks:
            info.warnings.extend(notes)
        if len(modalities[uid]) > 1:
            listed = ", ".join(sorted(m or "none" for m in modalities[uid]))
            for info in stacks:
                info.warnings.insert(
                    0,
                    f"mixed modalities: files of this series give Modality {listed}; "
                    f"split by modality (this stack: {modality or 'none'})",
                )
        series.extend(stacks)
    series.sort(key=lambda s: (s.study_uid, _number(s.series_number), s.series_uid, s.stack_index))
    return series, skipped


def build_stacks(records: list[HeaderRecord], first_index: int = 0) -> list[SeriesInfo]:
    """The stacks of one series (records sharing a SeriesInstanceUID), numbered from ``first_index``."""
    modality = records[0].modality
    planar: list[Slice] = []
    unplaced: list[HeaderRecord] = []
    flat: list[HeaderRecord] = []
    for record in records:
        slices = None if modality in PROJECTION_MODALITIES and not record.is_enhanced else slices_of(record)
        if slices is not None:
            planar.extend(slices)
        elif record.instance.frames == 1 and modality not in PROJECTION_MODALITIES:
            unplaced.append(record)
        else:
            flat.append(record)
    stacks = _planar_stacks(planar, modality) + _unplaced_stacks(unplaced, modality)
    stacks += [_flat_stack(r) for r in sorted(flat, key=_instance_order)]
    infos = [_series_info(stack, index) for index, stack in enumerate(stacks, start=first_index)]
    if not records[0].series_uid:
        for info in infos:
            info.warnings.insert(0, "missing SeriesInstanceUID: files without one are grouped together")
    return infos


def _drop_duplicates(records: list[HeaderRecord], skipped: list[FileError], notes: list[str]) -> list[HeaderRecord]:
    """Keep one file per SOP instance (the same image copied twice, or re-encoded): the first by path, unless
    its pixel data is unreadable and a copy's is not; that swap is noted (naming both files) in ``notes``."""
    kept: dict[tuple[str, int, int, int], int] = {}  # -> index in result
    readable: set[str] = set()  # kept files whose pixel data was checked
    result: list[HeaderRecord] = []
    for record in sorted(records, key=lambda r: r.instance.ref.display()):
        i = record.instance
        key = (i.sop_instance_uid, i.rows, i.columns, i.frames)
        if not i.sop_instance_uid or key not in kept:
            kept[key] = len(result)
            result.append(record)
            continue
        original = result[kept[key]].instance.ref.display()
        problem = None if original in readable else unreadable_reason(result[kept[key]].instance.ref)
        if problem is None or unreadable_reason(i.ref) is not None:
            if problem is None:
                readable.add(original)
            skipped.append(FileError(i.ref.display(), f"duplicate of {original} (same SOPInstanceUID)"))
            continue
        result[kept[key]] = record
        readable.add(i.ref.display())
        skipped.append(FileError(original, f"unreadable duplicate of {i.ref.display()} (same SOPInstanceUID), "
                                 f"which is used instead: {problem}"))
        notes.append(f"duplicate: {original} is unreadable ({problem}); its copy {i.ref.display()} with the "
                     "same SOPInstanceUID is used instead")
    return result


def _planar_stacks(slices: list[Slice], modality: str) -> list[_Stack]:
    """Split positioned slices: localizers, then instance group and size, orientation, duplicate positions."""
    localizers = [
        _Stack(
            "volume",
            sort_slices(cluster),
            warnings=["localizer: ImageType is LOCALIZER; kept as its own stack"],
            split="localizer",
        )
        for part in _partition([s for s in slices if s.localizer]).values()
        for cluster in _orientation_clusters(part)
    ]
    parts = _partition([s for s in slices if not s.localizer])
    sizes = {(rows, columns) for _, rows, columns in parts}
    main: list[_Stack] = []
    for (_, rows, columns), part in parts.items():
        size_warning = []
        if len(sizes) > 1:
            size_warning = [
                f"mixed sizes: the series holds images of {len(sizes)} sizes; split into one stack per size "
                f"(this stack: {columns} x {rows})"
            ]
        new_main, new_localizers = _orientation_stacks(part, modality)
        for stack in new_main + new_localizers:
            stack.warnings[:0] = size_warning
            stack.split = ", ".join(
                x for x in (f"{columns}x{rows}" if size_warning else "", stack.split) if x
            )
        main += new_main
        localizers += new_localizers
    return main + localizers


def _partition(slices: list[Slice]) -> dict[tuple[str, int, int], list[Slice]]:
    """Slices by (multi-frame instance or concatenation, rows, columns); single frames share one group."""
    parts: dict[tuple[str, int, int], list[Slice]] = defaultdict(list)
    for s in slices:
        i = s.record.instance
        group = (
            (s.record.concatenation_uid or i.sop_instance_uid) if i.frames > 1 or s.record.is_enhanced else ""
        )
        parts[(group, i.rows, i.columns)].append(s)
    return parts


def _orientation_stacks(slices: list[Slice], modality: str) -> tuple[list[_Stack], list[_Stack]]:
    """(main stacks, single-slice localizer stacks) of same-size slices that are not flagged LOCALIZER."""
    localizers: list[_Stack] = []
    clusters = _orientation_clusters(slices)
    if len(clusters) > 1 and modality in LOCALIZER_MODALITIES:
        for cluster in [c for c in clusters if len(c) == 1]:
            clusters.remove(cluster)
            localizers.append(
                _Stack(
                    "volume",
                    cluster,
                    warnings=[
                        "localizer: a single slice whose orientation differs from the rest of the series; "
                        "kept as its own stack"
                    ],
                    split="localizer",
                )
            )
    main = []
    for cluster in clusters:
        orientation_warning = []
        plane = _plane_name(cluster[0].orientation)
        if len(clusters) > 1:
            orientation_warning = [
                f"mixed orientations: the series holds {len(clusters)} orientations; "
                f"split into one stack per orientation (this stack: {plane})"
            ]
        for stack in _split_duplicates(cluster):
            stack.warnings[:0] = orientation_warning
            stack.split = ", ".join(x for x in (plane if orientation_warning else "", stack.split) if x)
            main.append(stack)
    return main, localizers


def _orientation_clusters(slices: list[Slice]) -> list[list[Slice]]:
    """Slices grouped by ImageOrientationPatient (within tolerance), largest group first."""
    clusters: list[list[Slice]] = []
    for s in slices:
        for cluster in clusters:
            if same_orientation(cluster[0].orientation, s.orientation):
                cluster.append(s)
                break
        else:
            clusters.append([s])
    return sorted(clusters, key=len, reverse=True)


def _split_duplicates(slices: list[Slice]) -> list[_Stack]:
    """One stack, or several when positions repeat (split by the first attribute that explains it)."""
    counts = Counter(_position_key(s) for s in slices)
    most = max(counts.values())
    if most == 1:
        return [_Stack("volume", sort_slices(slices))]
    repeated = sum(1 for n in counts.values() if n > 1)
    for key in STACK_KEYS:
        parts: dict[str, list[Slice]] = defaultdict(list)
        for s in slices:
            parts[s.keys.get(key, "")].append(s)
        if len(parts) == most and all(_unique_positions(p) for p in parts.values()):
            return [
                _Stack(
                    "volume",
                    sort_slices(part),
                    warnings=[
                        f"duplicate positions: {repeated} positions hold {most} images each; split into "
                        f"{most} stacks by {key} (this stack: {key} = {value})"
                    ],
                    split=f"{key}={value}",
                )
                for value, part in sorted(parts.items(), key=lambda kv: _natural(kv[0]))
            ]
    by_rank: dict[int, list[Slice]] = defaultdict(list)
    seen: Counter[tuple[float, ...]] = Counter()
    for s in sorted(slices, key=lambda s: s.order):
        position = _position_key(s)
        by_rank[seen[position]].append(s)
        seen[position] += 1
    return [
        _Stack(
            "volume",
            sort_slices(part),
            warnings=[
                f"duplicate positions: {repeated} positions hold up to {most} images and no attribute "
                f"({', '.join(STACK_KEYS)}) tells them apart; split into {most} stacks by InstanceNumber "
                f"order (this stack: occurrence {rank + 1})"
            ],
            split=f"occurrence {rank + 1}",
        )
        for rank, part in sorted(by_rank.items())
    ]


def _position_key(s: Slice) -> tuple[float, ...]:
    return tuple(np.round(s.position, 2).tolist())  # positions within 0.01 mm are the same


def _unique_positions(slices: list[Slice]) -> bool:
    return len({_position_key(s) for s in slices}) == len(slices)


def _unplaced_stacks(records: list[HeaderRecord], modality: str) -> list[_Stack]:
    """Single-frame images without ImagePositionPatient/ImageOrientationPatient."""
    by_size: dict[tuple[int, int], list[HeaderRecord]] = defaultdict(list)
    for record in records:
        by_size[(record.instance.rows, record.instance.columns)].append(record)
    stacks = []
    for group in by_size.values():
        if modality in VOLUME_MODALITIES and len(group) > 1:
            stacks.append(_Stack("volume", records=sorted(group, key=_instance_order)))
        else:
            stacks.extend(_flat_stack(r) for r in sorted(group, key=_instance_order))
    return stacks


def _flat_stack(record: HeaderRecord) -> _Stack:
    return _Stack("cine" if record.instance.frames > 1 else "projection", records=[record])


def _series_info(stack: _Stack, index: int) -> SeriesInfo:
    records = stack.records or _unique_records(stack.slices)
    first = records[0]
    info = SeriesInfo(
        series_uid=first.series_uid,
        study_uid=first.study_uid,
        modality=first.modality,
        description=first.description,
        series_number=first.series_number,
        frame_of_reference_uid=first.frame_of_reference_uid,
        patient=dict(first.patient),
        study=dict(first.study),
        stack_index=index,
        instances=[r.instance for r in records],
        warnings=list(stack.warnings),
        extra={"kind": stack.kind},
    )
    if stack.split:
        info.extra["split"] = stack.split
    if first.samples_per_pixel > 1:
        info.extra["samples_per_pixel"] = first.samples_per_pixel
    if stack.slices:
        _fill_volume(info, stack.slices, records)
    elif stack.kind == "volume":
        _fill_unplaced(info, records)
    else:
        _fill_flat(info, first)
    info.shape = info.geometry.shape if info.geometry else ()
    return info


def _unique_records(slices: list[Slice]) -> list[HeaderRecord]:
    seen: dict[int, HeaderRecord] = {}
    for s in slices:
        seen.setdefault(id(s.record), s.record)
    return list(seen.values())


def _fill_volume(info: SeriesInfo, slices: list[Slice], records: list[HeaderRecord]) -> None:
    result = stack_geometry(slices, info.modality)
    info.geometry = result.geometry
    info.warnings.extend(result.warnings)
    info.extra.update(result.extra)
    if any(r.instance.frames > 1 or r.is_enhanced for r in records):
        position = {id(r): i for i, r in enumerate(records)}
        info.frame_order = [(position[id(s.record)], s.frame) for s in slices]


def _fill_unplaced(info: SeriesInfo, records: list[HeaderRecord]) -> None:
    first = records[0]
    orientations = {r.instance.orientation for r in records}
    orientation = first.instance.orientation if len(orientations) == 1 else None
    direction = direction_from_image_orientation(orientation) if orientation else np.eye(3)
    spacing = first.spacing_between_slices or first.slice_thickness
    source = f"{spacing:g} mm from the header" if spacing else "1 mm assumed"
    row, column = first.pixel_spacing or (1.0, 1.0)
    info.warnings.append(
        "no position: ImagePositionPatient/ImageOrientationPatient missing; slices ordered by "
        f"InstanceNumber, slice spacing {source}; patient coordinates are not reliable"
    )
    if first.pixel_spacing is None:
        info.warnings.append("no pixel spacing: PixelSpacing is missing, 1 mm assumed in-plane")
    info.geometry = Geometry(
        shape=(len(records), first.instance.rows, first.instance.columns),
        spacing=(column, row, spacing or 1.0),
        origin=first.instance.position or (0.0, 0.0, 0.0),
        direction=direction,
    )


def _fill_flat(info: SeriesInfo, record: HeaderRecord) -> None:
    """A projection image (y, x), or a multi-frame image without positions as 2D+time (t, y, x)."""
    instance = record.instance
    row, column = _flat_spacing(record, info)
    if instance.orientation:
        direction = direction_from_image_orientation(instance.orientation)
    else:
        from_letters = direction_from_patient_orientation(record.patient_orientation)
        direction = np.eye(3) if from_letters is None else from_letters
        if from_letters is None:
            if instance.frames == 1:
                info.warnings.append(
                    "no patient orientation: neither ImageOrientationPatient nor a PatientOrientation of two "
                    "orthogonal letters; the image is shown as stored (orientation letters are not known)"
                )
    if instance.frames > 1:
        shape: tuple[int, ...] = (instance.frames, instance.rows, instance.columns)
        info.frame_order = [(0, frame) for frame in range(instance.frames)]
        info.warnings.append(
            f"2D+time: a multi-frame image without per-frame positions; its {instance.frames} frames form a "
            "2D+time stack (the third axis is the frame number, spacing 1)"
        )
        if record.frame_time_ms:
            info.extra["frame_time_ms"] = record.frame_time_ms
    else:
        shape = (instance.rows, instance.columns)
    info.geometry = Geometry(
        shape=shape,
        spacing=(column, row, 1.0),
        origin=instance.position or (0.0, 0.0, 0.0),
        direction=direction,
    )


_LETTER_AXES = {"L": (1, 0, 0), "R": (-1, 0, 0), "P": (0, 1, 0), "A": (0, -1, 0), "H": (0, 0, 1), "F": (0, 0, -1)}


def direction_from_patient_orientation(letters: tuple[str, ...]) -> np.ndarray | None:
    """Direction of a projection image from PatientOrientation (row axis, column axis), e.g. ("L", "F") for
    a PA chest: columns run to the patient's left, rows to the feet. None unless both are single, orthogonal
    letters (oblique pairs such as "LA" carry no exact angle)."""
    if len(letters) != 2 or any(letter not in _LETTER_AXES for letter in letters):
        return None
    row, column = (np.array(_LETTER_AXES[letter], dtype=float) for letter in letters)
    if abs(float(row @ column)) > 0:
        return None
    return np.column_stack([row, column, np.cross(row, column)])


def _flat_spacing(record: HeaderRecord, info: SeriesInfo) -> tuple[float, float]:
    """(row, column) spacing: PixelSpacing, else ImagerPixelSpacing (detector plane), else 1 mm."""
    spacing = record.pixel_spacing or (record.frame_planes[0].pixel_spacing if record.frame_planes else None)
    if spacing:
        info.extra["pixel_spacing_source"] = "PixelSpacing"
        return spacing[0], spacing[1]
    if record.imager_pixel_spacing:
        info.extra["pixel_spacing_source"] = "ImagerPixelSpacing"
        info.warnings.append(
            "detector spacing: no PixelSpacing; ImagerPixelSpacing is used, which is measured at the "
            "detector plane (sizes at the patient are smaller by the magnification factor)"
        )
        return record.imager_pixel_spacing[0], record.imager_pixel_spacing[1]
    info.extra["pixel_spacing_source"] = "assumed"
    info.warnings.append("no pixel spacing: PixelSpacing is missing, 1 mm assumed in-plane")
    return 1.0, 1.0


def _plane_name(orientation: tuple[float, ...]) -> str:
    normal = np.abs(normal_of(orientation))
    axis = int(np.argmax(normal))
    name = ("sagittal", "coronal", "axial")[axis]
    return name if normal[axis] > math.cos(math.radians(10)) else f"oblique {name}"


def _instance_order(record: HeaderRecord) -> tuple[int, str]:
    return (record.instance.instance_number or 0, record.instance.ref.display())


def _natural(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _number(value: int | None) -> float:
    return math.inf if value is None else float(value)
