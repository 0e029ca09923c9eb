"""The C (clean) action for text: strip the dataset's own identifiers out of descriptors and free text.

The vocabulary is every text value the profile removes or replaces in the same dataset (names and their
components, IDs, institution and device names, dates in common spellings, UIDs), plus any run of 5+ digits
and any date-like token. What is left keeps its clinical meaning ("CT CHEST W CONTRAST"); a value cleaned
to nothing becomes the VR's dummy. This cannot catch identifiers the header does not hold elsewhere
(e.g. a relative's name typed into a comment), which is why Clean Descriptors stays an explicit option.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from engine.deid.profile import Profile

VOCABULARY_VRS = frozenset({"AE", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "UC", "UI", "UT"})
_GENERIC = (
    r"\d{5,}",  # record numbers, phone numbers, compact dates
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}",
    r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}",
)
_MIN_TOKEN = 3


class Scrubber:
    """Removes a fixed vocabulary of identifying phrases (whole words, any case) from text."""

    def __init__(self, phrases: Iterable[str]) -> None:
        words = sorted({p for p in phrases if len(p) >= 2}, key=len, reverse=True)
        alternatives = [re.escape(w) for w in words] + list(_GENERIC)
        self._pattern = re.compile(
            r"(?<![A-Za-z0-9])(?:" + "|".join(alternatives) + r")(?![A-Za-z0-9])", re.I
        )

    def __call__(self, text: str) -> str:
        """``text`` without any vocabulary phrase, whitespace collapsed."""
        return " ".join(self._pattern.sub(" ", text).split())


def identifying_phrases(ds: Dataset, profile: Profile) -> set[str]:
    """Every phrase the profile removes or replaces anywhere in ``ds`` (read before ``ds`` is changed)."""
    phrases: set[str] = set()
    for elem in ds.iterall():
        if elem.tag.is_private or elem.VR not in VOCABULARY_VRS:
            continue
        if profile.action_for(elem.tag) in (None, "K", "C") and elem.VR not in ("DA", "DT"):
            continue
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        for value in values:
            phrases.update(_spellings(elem.VR, str(value or "").strip()))
    return phrases


def _spellings(vr: str, value: str) -> set[str]:
    if not value:
        return set()
    if vr in ("DA", "DT") and len(value) >= 8 and value[:8].isdigit():
        y, m, d = value[:4], value[4:6], value[6:8]
        return {
            value,
            value[:8],
            f"{y}-{m}-{d}",
            f"{y}/{m}/{d}",
            f"{d}/{m}/{y}",
            f"{m}/{d}/{y}",
            f"{d}.{m}.{y}",
        }
    spellings = {value}
    if vr == "PN":
        spellings.update(part for part in re.split(r"[\^=]", value) if part.strip())
        spellings.update(part for part in re.split(r"[\^=\s]+", value) if len(part) >= 2)
    else:
        spellings.update(part for part in value.split() if len(part) >= _MIN_TOKEN)
    return {s.strip() for s in spellings if s.strip()}
