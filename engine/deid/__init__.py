"""DICOM de-identification: PS3.15 Annex E basic profile + options, driven by Table E.1-1 at run time."""

from engine.deid.burned_in import BurnedInAnnotationError, burned_in_reason
from engine.deid.context import DeidContext
from engine.deid.dataset import deidentify_dataset
from engine.deid.options import DeidOptions
from engine.deid.tree import DeidReport, deidentify_tree

__all__ = [
    "BurnedInAnnotationError",
    "DeidContext",
    "DeidOptions",
    "DeidReport",
    "burned_in_reason",
    "deidentify_dataset",
    "deidentify_tree",
]
