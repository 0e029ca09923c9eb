"""DICOM SEG of an annotator's corrected label map, built with engine.ai's SEG writer and then marked as
a correction: SEMIAUTOMATIC segments that keep the AI algorithm's identification (MANUAL, without one,
when there was no AI original), the annotator as ContentCreatorName, and a series description naming the
plugin that produced the original. The label regions the plugin defined (e.g. BraTS WT / TC / ET) follow
as overlapping segments, recomputed from the corrected labels. The frames' derivation from the source
images is highdicom's."""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
from pydicom.dataset import Dataset

from engine.ai.dicom_seg import build_seg
from engine.editing.versions import VersionInfo
from engine.volume import LabelMap

CONTENT_LABEL = "CORRECTED"
SERIES_NUMBER = 902


def build_correction_seg(
    final: LabelMap, sources: Sequence[Dataset], original: VersionInfo | None, annotator: str
) -> hd.seg.Segmentation:
    """A BINARY SEG of ``final`` on ``sources``; ``original`` is the AI version it corrects (None: manual)."""
    provenance = original.provenance() if original is not None else None
    regions = original.label_regions() if original is not None else []
    seg = build_seg(final, sources, provenance, series_number=SERIES_NUMBER, regions=regions)
    semiautomatic = provenance is not None
    for segment in seg.SegmentSequence:
        if semiautomatic:
            segment.SegmentAlgorithmType = hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC.value
        else:
            segment.SegmentAlgorithmType = hd.seg.SegmentAlgorithmTypeValues.MANUAL.value
            for keyword in ("SegmentAlgorithmName", "SegmentationAlgorithmIdentificationSequence"):
                if keyword in segment:
                    delattr(segment, keyword)
    seg.ContentCreatorName = f"{annotator}^"  # the login name as family name (PN form)
    seg.ContentLabel = CONTENT_LABEL
    if provenance is not None:  # semiautomatic
        what = f"{provenance.plugin_id} {provenance.plugin_version}"
        seg.ContentDescription = f"Annotator correction of {what}"[:64]
        seg.SeriesDescription = f"Corrected {what} (research use)"[:64]
    else:
        seg.ContentDescription = "Manual segmentation"
        seg.SeriesDescription = "Manual segmentation (research use)"
    return seg
