"""PgUp / PgDn through the browser's series without leaving the patient: reading the next patient is a
decision the reader makes in the worklist or the browser, never a side effect of paging. Qt-free."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)

LAST = "last series of this patient: open the next patient from the worklist or the study browser"
FIRST = "first series of this patient: open another patient from the worklist or the study browser"


def step_within_patient(keys: Sequence[Key], current: Key | None, step: int, patient_of: Callable[[Key], object]
                        ) -> tuple[Key | None, str]:
    """The series ``step`` places from ``current`` in ``keys`` (the browser's order), or None with the reason
    when that would leave the patient (or the list). Without a current series, the first or last one."""
    if not keys:
        return None, "no series in the study browser"
    if current not in keys:
        return (keys[0] if step > 0 else keys[-1]), ""
    index = keys.index(current) + step
    if not 0 <= index < len(keys):
        return None, LAST if step > 0 else FIRST
    if patient_of(keys[index]) != patient_of(current):
        return None, LAST if step > 0 else FIRST
    return keys[index], ""
