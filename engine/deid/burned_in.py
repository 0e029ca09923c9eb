"""Refusal rule for images whose pixels may hold burned-in text (names, dates) that header rules miss."""

from __future__ import annotations

from pydicom.dataset import Dataset

PROJECTION_MODALITIES = frozenset({"CR", "DX", "MG", "IO", "PX", "XA", "RF"})
PROJECTION_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography
        "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray, for presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray, for processing
        "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray, for presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography X-Ray, for processing
        "1.2.840.10008.5.1.4.1.1.1.3",  # Digital Intra-Oral X-Ray, for presentation
        "1.2.840.10008.5.1.4.1.1.1.3.1",  # Digital Intra-Oral X-Ray, for processing
        "1.2.840.10008.5.1.4.1.1.12.1",  # X-Ray Angiographic
        "1.2.840.10008.5.1.4.1.1.12.1.1",  # Enhanced XA
        "1.2.840.10008.5.1.4.1.1.12.2",  # X-Ray Radiofluoroscopic
        "1.2.840.10008.5.1.4.1.1.12.2.1",  # Enhanced XRF
    }
)
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


class BurnedInAnnotationError(Exception):
    """The image may hold burned-in identifying text and burned-in images were not allowed."""


def burned_in_reason(ds: Dataset) -> str | None:
    """Why the pixels of ``ds`` may hold burned-in text, or None when nothing suggests it."""
    if not any(keyword in ds for keyword in PIXEL_KEYWORDS):
        return None
    flag = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if flag == "YES":
        return "Burned In Annotation is YES"
    if flag:
        return None
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality in PROJECTION_MODALITIES:
        return f"Burned In Annotation is absent on a projection image (modality {modality})"
    if str(ds.get("SOPClassUID", "")) in PROJECTION_SOP_CLASSES:
        return "Burned In Annotation is absent on a projection image (SOP class)"
    return None
