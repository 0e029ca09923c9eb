"""Risk categories of a total Agatston score.

Primary: the classic five groups (Rumberger et al. 1999; MESA / ACC-AHA reports): 0 none, 1-10 minimal,
11-100 mild, 101-400 moderate, > 400 severe. Scores are not integers, so the bounds are applied as
0 < s <= 10, 10 < s <= 100, 100 < s <= 400, s > 400 (exactly 0 is "none").
Also given: the CAC-DRS Agatston grade (Hecht et al. 2018): A0 = 0, A1 1-99, A2 100-299, A3 >= 300
(applied as 0 < s < 100, 100 <= s < 300, s >= 300).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RiskCategory:
    """A category: short key, display name, score range, the risk wording and the CAC-DRS grade."""

    key: str
    name: str
    range_text: str
    meaning: str
    cac_drs: str


_GROUPS = (  # (upper bound inclusive, key, name, range, meaning)
    (0.0, "none", "None", "0", "no identifiable calcified plaque; very low risk"),
    (10.0, "minimal", "Minimal", "1-10", "minimal calcified plaque; low risk"),
    (100.0, "mild", "Mild", "11-100", "mild calcified plaque; moderate risk"),
    (400.0, "moderate", "Moderate", "101-400", "moderate calcified plaque; moderately high risk"),
    (float("inf"), "severe", "Severe", "> 400", "extensive calcified plaque; high risk"),
)
CATEGORY_KEYS = tuple(group[1] for group in _GROUPS)


def cac_drs_grade(total_agatston: float) -> str:
    """CAC-DRS Agatston grade A0-A3."""
    if total_agatston <= 0:
        return "A0"
    return "A1" if total_agatston < 100 else "A2" if total_agatston < 300 else "A3"


def risk_category(total_agatston: float) -> RiskCategory:
    """The category of a total (3 mm-normalised) Agatston score."""
    if total_agatston < 0:
        raise ValueError(f"an Agatston score cannot be negative, got {total_agatston}")
    _, key, name, range_text, meaning = next(group for group in _GROUPS if total_agatston <= group[0])
    return RiskCategory(key, name, range_text, meaning, cac_drs_grade(total_agatston))
