"""DICOM SEG (BINARY) of a LabelMap, referencing its source images, built with highdicom — and back.

Segments follow the label table ordered by value; DICOM wants segment numbers 1, 2, 3, ... so label
values are renumbered in that order (BraTS-style 1/2/3 tables keep their values). Each segment carries the
label's name, SNOMED (or other) coded concept, display colour and the AUTOMATIC algorithm identification.
Label regions (unions of labels, e.g. BraTS WT / TC / ET) follow as extra segments that overlap the
labels'; their Segment Description reads "union of segments 1, 2, 3", which is how reading back tells
them from the labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from engine.ai.dicom_common import MANUFACTURER, SOFTWARE_VERSION, ExportError, seg_algorithm, slice_order
from engine.ai.result import LabelRegion, Provenance
from engine.geometry import Geometry, int3
from engine.volume import CodedConcept, Label, LabelMap

MORPHOLOGICALLY_ABNORMAL_STRUCTURE = CodedConcept("49755003", "SCT", "Morphologically Abnormal Structure")
UNION_OF = "union of segments "


def build_seg(
    label_map: LabelMap,
    sources: Sequence[Dataset],
    provenance: Provenance | None = None,
    category: CodedConcept = MORPHOLOGICALLY_ABNORMAL_STRUCTURE,
    series_number: int = 901,
    regions: Sequence[LabelRegion] = (),
) -> hd.seg.Segmentation:
    """A BINARY SEG of ``label_map`` on the image series ``sources`` (which must lie on its grid), with one
    more segment per region of ``regions`` after the labels' segments."""
    if not label_map.labels:
        raise ExportError("the label map has no label table: nothing to describe in a SEG")
    labels = sorted(label_map.labels, key=lambda label: label.value)
    for label in labels:
        _required_concept(label)
    numbers = {label.value: number for number, label in enumerate(labels, start=1)}
    for region in regions:
        if not region.values or not set(region.values) <= set(numbers):
            raise ExportError(f"region {region.name!r} names label values {list(region.values)}; the label "
                              f"table has {sorted(numbers)}")
    ordered = slice_order(sources, label_map.geometry)
    array = label_map.array[None] if label_map.geometry.is_projection else label_map.array
    unknown = np.setdiff1d(np.unique(array), [0, *numbers])
    if unknown.size:
        raise ExportError(f"label map holds values {unknown.tolist()} that are not in its label table")
    algorithm = seg_algorithm(provenance)
    descriptions = [
        _description(number, label.name, category, _required_concept(label), label.color, algorithm)
        for number, label in enumerate(labels, start=1)
    ]
    for number, region in enumerate(regions, start=len(labels) + 1):
        description = _description(number, region.name, category, region.concept, region.color, algorithm)
        description.SegmentDescription = UNION_OF + ", ".join(str(numbers[v]) for v in region.values)
        descriptions.append(description)
    return hd.seg.Segmentation(
        source_images=ordered,
        pixel_array=_segment_pixels(array, numbers, regions),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=provenance.plugin_id if provenance else MANUFACTURER,
        software_versions=SOFTWARE_VERSION,
        device_serial_number="0",
        series_description="AI segmentation (research use, not for clinical use)",
    )


def _segment_pixels(array: np.ndarray, numbers: dict[int, int], regions: Sequence[LabelRegion]) -> np.ndarray:
    """Segment numbers per voxel (labels only), or one binary mask per segment (last axis) with regions."""
    if not regions:
        lookup = np.zeros(max(numbers) + 1, dtype=np.uint16)
        for value, number in numbers.items():
            lookup[value] = number
        return lookup[array].astype(np.uint8 if len(numbers) < 256 else np.uint16)
    masks = [array == value for value in numbers] + [np.isin(array, region.values) for region in regions]
    return np.stack(masks, axis=-1)


def _required_concept(label: Label) -> CodedConcept:
    """The label's coded concept, which a SEG segment must have."""
    if label.concept is None:
        raise ExportError(f"label {label.value} ({label.name}) has no coded concept; SEG needs one")
    return label.concept


def _description(number: int, name: str, category: CodedConcept, concept: CodedConcept,
                 color: tuple[int, int, int], algorithm: hd.AlgorithmIdentificationSequence
                 ) -> hd.seg.SegmentDescription:
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=name,
        segmented_property_category=_code(category),
        segmented_property_type=_code(concept),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm,
        tracking_uid=generate_uid(),
        tracking_id=name,
        display_color=hd.color.CIELabColor.from_rgb(*color),
    )


def seg_to_label_map(seg: hd.seg.Segmentation, sources: Sequence[Dataset], geometry: Geometry) -> LabelMap:
    """The label map of a SEG on the grid ``geometry`` of ``sources``; values are the segment numbers. Region
    segments (unions of other segments) are left out."""
    ordered = slice_order(sources, geometry)
    numbers = [number for number in seg.segment_numbers
               if not seg.get_segment_description(number).get("SegmentDescription", "").startswith(UNION_OF)]
    pixels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=[dataset.SOPInstanceUID for dataset in ordered],
        segment_numbers=numbers,
        combine_segments=True,
        skip_overlap_checks=False,
    )
    array = pixels[0] if geometry.is_projection else pixels
    labels = []
    for number in numbers:
        description = seg.get_segment_description(number)
        concept = description.segmented_property_type
        labels.append(Label(
            value=number,
            name=description.segment_label,
            color=_rgb(description),
            concept=CodedConcept(concept.value, concept.scheme_designator, concept.meaning),
        ))
    dtype = np.uint8 if max(numbers, default=0) < 256 else np.uint16
    return LabelMap(array=np.asarray(array, dtype=dtype), geometry=geometry, labels=labels)


def _rgb(description: hd.seg.SegmentDescription) -> tuple[int, int, int]:
    if "RecommendedDisplayCIELabValue" not in description:
        return (255, 0, 0)
    color = hd.color.CIELabColor.from_dicom_value(description.RecommendedDisplayCIELabValue)
    return int3(color.to_rgb())


def _code(concept: CodedConcept) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value=concept.value, scheme_designator=concept.scheme, meaning=concept.meaning)
