"""DICOM input: a header-only scan of folders, zips, DICOMDIRs and files into series (``scan``), and loading a
series into a Volume (``load_series``), with the errors that name the file and the reason.

Modules: ``sources`` (where files come from), ``header`` (one header's facts), ``stacks`` / ``slices``
(grouping into series and their geometry), ``scanner``, ``pixels`` / ``codecs`` / ``rescale`` (stored values
to modality values) and ``loader``.
"""

from engine.dicom.codecs import DecodeError
from engine.dicom.header import HeaderError
from engine.dicom.loader import LoadError, load_series
from engine.dicom.pixels import PixelError
from engine.dicom.scanner import scan

__all__ = ["DecodeError", "HeaderError", "LoadError", "PixelError", "load_series", "scan"]
