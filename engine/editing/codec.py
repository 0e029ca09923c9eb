"""Byte and JSON forms of what editing persists: label tables, geometries, label maps and edits."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import numpy as np

from engine.editing.diff import VoxelDiff
from engine.editing.history import Edit
from engine.geometry import Geometry, int3
from engine.volume import CodedConcept, Label, LabelMap

_LENGTH = struct.Struct("<I")


def label_to_json(label: Label) -> dict[str, Any]:
    concept = label.concept
    return {
        "value": label.value,
        "name": label.name,
        "color": list(label.color),
        "concept": None if concept is None else {
            "value": concept.value, "scheme": concept.scheme, "meaning": concept.meaning
        },
    }


def label_from_json(data: dict[str, Any]) -> Label:
    concept = data.get("concept")
    return Label(
        value=int(data["value"]),
        name=str(data["name"]),
        color=int3(data["color"]),
        concept=None if concept is None else CodedConcept(**concept),
    )


def geometry_to_json(geometry: Geometry) -> dict[str, Any]:
    return {
        "shape": list(geometry.shape),
        "spacing": list(geometry.spacing),
        "origin": list(geometry.origin),
        "direction": geometry.direction.tolist(),
    }


def geometry_from_json(data: dict[str, Any]) -> Geometry:
    return Geometry(
        shape=tuple(data["shape"]),
        spacing=tuple(data["spacing"]),
        origin=tuple(data["origin"]),
        direction=np.asarray(data["direction"], dtype=float),
    )


def label_map_to_npz(label_map: LabelMap, meta: dict[str, Any]) -> bytes:
    """A compressed .npz holding the voxels plus ``meta``, the geometry and the label table as JSON."""
    document = {
        **meta,
        "geometry": geometry_to_json(label_map.geometry),
        "labels": [label_to_json(label) for label in label_map.labels],
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, array=label_map.array, meta=np.array(json.dumps(document)))
    return buffer.getvalue()


def label_map_from_npz(data: bytes) -> tuple[LabelMap, dict[str, Any]]:
    """The label map and the meta document of :func:`label_map_to_npz` bytes."""
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        document = json.loads(str(stored["meta"]))
        array = stored["array"].copy()
    label_map = LabelMap(
        array=array,
        geometry=geometry_from_json(document["geometry"]),
        labels=[label_from_json(item) for item in document["labels"]],
    )
    return label_map, document


def edit_to_bytes(edit: Edit) -> bytes:
    """A JSON header (name, box, dtype, label tables) followed by the diff's raw arrays."""
    diff = edit.diff
    header = {
        "name": edit.name,
        "start": list(diff.start),
        "shape": list(diff.shape),
        "dtype": diff.before.dtype.str,
        "count": int(diff.before.size),
        "sparse": diff.is_sparse,
        "labels_before": _labels_or_none(edit.labels_before),
        "labels_after": _labels_or_none(edit.labels_after),
    }
    text = json.dumps(header).encode()
    parts = [_LENGTH.pack(len(text)), text]
    if diff.indices is not None:
        parts.append(diff.indices.astype("<u4").tobytes())
    parts += [np.ascontiguousarray(diff.before).tobytes(), np.ascontiguousarray(diff.after).tobytes()]
    return b"".join(parts)


def edit_from_bytes(data: bytes) -> Edit:
    """The inverse of :func:`edit_to_bytes`."""
    (length,) = _LENGTH.unpack_from(data)
    header = json.loads(data[_LENGTH.size : _LENGTH.size + length])
    offset = _LENGTH.size + length
    dtype, count = np.dtype(header["dtype"]), header["count"]
    indices = None
    if header["sparse"]:
        indices = np.frombuffer(data, dtype="<u4", count=count, offset=offset).astype(np.uint32)
        offset += 4 * count
    before = np.frombuffer(data, dtype=dtype, count=count, offset=offset).copy()
    after = np.frombuffer(data, dtype=dtype, count=count, offset=offset + count * dtype.itemsize).copy()
    shape = tuple(header["shape"])
    if indices is None:
        before, after = before.reshape(shape), after.reshape(shape)
    diff = VoxelDiff(tuple(header["start"]), shape, before, after, indices)
    return Edit(
        name=header["name"],
        diff=diff,
        labels_before=_labels_from(header["labels_before"]),
        labels_after=_labels_from(header["labels_after"]),
    )


def _labels_or_none(labels: tuple[Label, ...] | None) -> list[dict[str, Any]] | None:
    return None if labels is None else [label_to_json(label) for label in labels]


def _labels_from(data: list[dict[str, Any]] | None) -> tuple[Label, ...] | None:
    return None if data is None else tuple(label_from_json(item) for item in data)
