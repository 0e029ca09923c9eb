"""Turn an exception met while reading one file into a sentence a person understands.

The scanner and the loader report per-file problems as ``(path, reason)``; the reason must not be a
library's own exception text (``TypeError: unsupported operand ...``). Exceptions the engine raises itself
carry such sentences already; anything else is described by what was being read, and the library's text is
logged (``logging`` at INFO) for whoever debugs it.
"""

from __future__ import annotations

import logging
import zipfile
import zlib

from pydicom.errors import InvalidDicomError

_log = logging.getLogger(__name__)


class PlainError(Exception):
    """Base of the engine's per-file exceptions: the message is already a sentence for the user."""


def describe(exc: BaseException, reading: str = "header") -> str:
    """A plain sentence for ``exc``, raised while reading a file's ``reading`` ("header" or "pixel data")."""
    if isinstance(exc, PlainError):
        return str(exc) or type(exc).__name__
    _log.info("reading %s: %s: %s", reading, type(exc).__name__, exc)
    if isinstance(exc, MemoryError):
        return f"there is not enough memory to read its {reading}"
    if isinstance(exc, FileNotFoundError):
        return "the file no longer exists"
    if isinstance(exc, PermissionError):
        return "the file cannot be opened: permission denied"
    if isinstance(exc, OSError):
        return f"the file cannot be read ({exc.strerror or 'input/output error'})"
    if isinstance(exc, InvalidDicomError):
        return "not a valid DICOM file: it has no DICOM file header"
    if isinstance(exc, zipfile.BadZipFile | zlib.error | EOFError):
        return f"its compressed data is damaged, so its {reading} cannot be read"
    if type(exc).__name__ == "PanicException":  # a Rust decoder gave up (pyo3 raises a BaseException)
        return f"its {reading} is damaged: the decoder stopped on it"
    return f"its {reading} is damaged and cannot be read"
