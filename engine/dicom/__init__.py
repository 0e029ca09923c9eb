"""DICOM input: a header-only scan of folders, zips, DICOMDIRs and files into series (``scan``), and loading a
series into a Volume (``load_series``), with the errors that name the file and the reason.

Modules: ``sources`` (where files come from, confined to the folder given), ``header`` (one header's facts),
``limits`` (header values checked against the data and the allocation budget before anything is allocated),
``stacks`` / ``slices`` (grouping into series and their geometry), ``scanner``, ``pixels`` / ``codecs`` /
``jpeg_header`` / ``sandbox`` / ``rescale`` (stored values to modality values; GDCM decodes in worker
processes), ``loader``, and ``errors`` (per-file errors in plain words).
"""

from engine.dicom.codecs import DecodeError
from engine.dicom.header import HeaderError
from engine.dicom.loader import LoadError, load_series
from engine.dicom.pixels import PixelError
from engine.dicom.scanner import scan

__all__ = ["DecodeError", "HeaderError", "LoadError", "PixelError", "load_series", "scan"]
