"""Key images as a DICOM Key Object Selection document (highdicom), and back."""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from engine.ai.dicom_common import MANUFACTURER, ExportError, slice_order
from engine.export.image_plane import slice_of
from engine.geometry import Geometry


def build_kos(
    key_slices: Sequence[int],
    sources: Sequence[Dataset],
    geometry: Geometry,
    description: str = "",
    series_number: int = 912,
) -> hd.ko.KeyObjectSelectionDocument:
    """A KOS titled "Of Interest" that selects the images at slice indices ``key_slices`` of the series."""
    ordered = slice_order(sources, geometry)
    chosen = sorted(set(int(z) for z in key_slices))
    if not chosen:
        raise ExportError("no key image is flagged in this series")
    outside = [z for z in chosen if not 0 <= z < len(ordered)]
    if outside:
        raise ExportError(f"key image slice(s) {outside} lie outside the series' {len(ordered)} images")
    images = [ordered[z] for z in chosen]
    content = hd.ko.KeyObjectSelection(document_title=codes.DCM.OfInterest, referenced_objects=images,
                                       description=description or None)
    return hd.ko.KeyObjectSelectionDocument(
        evidence=images, content=content, series_instance_uid=generate_uid(), series_number=series_number,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer=MANUFACTURER)


def read_kos(dataset: Dataset, sources: Sequence[Dataset], geometry: Geometry) -> list[int]:
    """The slice indices of the series' images a KOS selects (ValueError names an image not in the series)."""
    ordered = slice_order(sources, geometry)
    document = hd.ko.KeyObjectSelectionDocument.from_dataset(dataset)
    uids = [item.referenced_sop_instance_uid for item in document.content.get_references()]
    return sorted(slice_of(uid, ordered) for uid in uids)
