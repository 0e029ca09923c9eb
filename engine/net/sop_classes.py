"""The pynetdicom SOP classes engine.net uses, imported in one place.

pynetdicom creates its SOP class constants at import time (``globals()[name] = ...``), so a type checker
cannot see them in ``pynetdicom.sop_class``; this module is the one place that says so.
"""

from __future__ import annotations

from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # generated at import time, invisible to mypy
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

__all__ = [
    "StudyRootQueryRetrieveInformationModelFind",
    "StudyRootQueryRetrieveInformationModelGet",
    "StudyRootQueryRetrieveInformationModelMove",
    "Verification",
]
