"""PgUp / PgDn never walk into another patient (issue: it did, without a word)."""

from __future__ import annotations

from app.viewer_model.series_steps import FIRST, LAST, step_within_patient

KEYS = ["a1", "a2", "b1", "b2"]


def patient(key: str) -> str:
    return key[0]


def test_steps_stay_inside_the_patient() -> None:
    assert step_within_patient(KEYS, "a1", 1, patient) == ("a2", "")
    assert step_within_patient(KEYS, "a2", 1, patient) == (None, LAST)
    assert step_within_patient(KEYS, "b1", -1, patient) == (None, FIRST)
    assert step_within_patient(KEYS, "b1", 1, patient) == ("b2", "")
    assert step_within_patient(KEYS, "b2", 1, patient) == (None, LAST)
    assert step_within_patient(KEYS, "a1", -1, patient) == (None, FIRST)


def test_without_a_current_series_the_first_or_last_opens() -> None:
    assert step_within_patient(KEYS, None, 1, patient) == ("a1", "")
    assert step_within_patient(KEYS, None, -1, patient) == ("b2", "")
    assert step_within_patient([], None, 1, patient)[0] is None
