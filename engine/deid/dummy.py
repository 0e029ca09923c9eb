"""Dummy values: non-empty, valid for their VR, and carrying no information from the original."""

from __future__ import annotations

from typing import Any

DUMMY_TEXT = {
    "AE": "ANONYMOUS",
    "AS": "000Y",
    "CS": "ANONYMOUS",
    "DA": "19000101",
    "DT": "19000101000000",
    "DS": "0",
    "IS": "0",
    "LO": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "PN": "ANONYMOUS^",  # family name + delimiter: the caret-less form is a retired PN form
    "SH": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "TM": "000000",
    "UC": "ANONYMIZED",
    "UR": "ANONYMIZED",
    "UT": "ANONYMIZED",
}
NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"})
BINARY_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})
# Free text: inside a sequence the profile replaces with a dummy (D), such text is dummied too.
FREE_TEXT_VRS = frozenset({"LT", "ST", "UT", "UC"})
# A code that stands in for an identifying code item (a "99" coding scheme is a local one by convention).
DUMMY_CODE = {"CodeValue": "ANON", "CodingSchemeDesignator": "99SLDEID", "CodeMeaning": "De-identified"}


def dummy_value(vr: str, original: Any) -> Any:
    """A dummy for a non-sequence, non-UI element: binary values keep their (even) length, zero-filled."""
    if vr in DUMMY_TEXT:
        return DUMMY_TEXT[vr]
    if vr in NUMERIC_VRS:
        return 0
    if vr in BINARY_VRS:
        length = len(original) if isinstance(original, bytes | bytearray) else 0
        return bytes(max(2, length + length % 2))
    raise ValueError(f"no dummy value for VR {vr}")
