"""Keyed, deterministic replacements: UIDs, patient pseudonyms and per-patient date shifts.

Everything is an HMAC-SHA256 of the original value under one secret key, so the same key gives the same
output for the same input across files, studies and runs, and nothing can be inverted without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from pydicom.dataset import Dataset

# UIDs under the DICOM standard's own root name SOP classes, transfer syntaxes, coding schemes, well-known
# frames of reference: they never identify an instance, so they are never remapped.
STANDARD_UID_ROOT = "1.2.840.10008."
MIN_SHIFT_DAYS = 365
MAX_SHIFT_DAYS = 3650


class DeidContext:
    """The secret key and the keyed functions derived from it (one context per run, or per key)."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key_was_generated = key is None
        self._key = secrets.token_bytes(32) if key is None else bytes(key)
        if not self._key:
            raise ValueError("the de-identification key is empty")
        self.map_uid = lru_cache(maxsize=65536)(self._map_uid)

    def digest(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA256 of ``value`` for one ``purpose`` (purposes never share outputs)."""
        return hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()

    def _map_uid(self, uid: str) -> str:
        """``uid`` -> "2.25." + a keyed 128-bit integer; empty and standard-defined UIDs are kept."""
        uid = uid.strip().rstrip("\0")
        if not uid or uid.startswith(STANDARD_UID_ROOT):
            return uid
        return "2.25." + str(int.from_bytes(self.digest("uid", uid)[:16], "big"))

    def patient_key(self, ds: Dataset) -> str:
        """What identifies the original patient: issuer + Patient ID, else name + birth date."""
        patient_id = str(ds.get("PatientID", "") or "").strip()
        if patient_id:
            return f"id:{ds.get('IssuerOfPatientID', '') or ''}:{patient_id}"
        return f"name:{ds.get('PatientName', '') or ''}:{ds.get('PatientBirthDate', '') or ''}"

    def pseudonym(self, patient_key: str) -> tuple[str, str]:
        """(Patient ID, Patient's Name) pseudonyms for one original patient."""
        patient_id = "SL" + self.digest("patient", patient_key)[:6].hex().upper()
        return patient_id, f"ANONYMOUS^{patient_id}"

    def date_shift_days(self, patient_key: str) -> int:
        """A keyed per-patient shift, between -MAX_SHIFT_DAYS and -MIN_SHIFT_DAYS days (always backwards)."""
        span = MAX_SHIFT_DAYS - MIN_SHIFT_DAYS + 1
        return -(MIN_SHIFT_DAYS + int.from_bytes(self.digest("date-shift", patient_key)[:8], "big") % span)
