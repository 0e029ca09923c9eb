"""The annotators' worklist: the catalog's studies as a queue with status (to do / in progress / done),
next / previous, filters by status, modality and text, and resume-where-you-left-off.

Statuses live in the catalog (:meth:`Catalog.set_status`); the last opened study, the viewer's position
in it and the filter live in ``worklist.json`` in the user data folder, written atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_bytes
from engine.catalog import STATUSES, Catalog, StudyRow
from engine.paths import data_dir

STATE_NAME = "worklist.json"
TO_DO, IN_PROGRESS, DONE = STATUSES


@dataclass(frozen=True)
class WorklistItem:
    """A study in the queue with the modalities of its series."""

    study: StudyRow
    modalities: tuple[str, ...]

    @property
    def study_uid(self) -> str:
        return self.study.study_uid

    @property
    def status(self) -> str:
        return self.study.status


@dataclass(frozen=True)
class WorklistFilter:
    """Which studies the queue shows: a status, a modality, and text found (case-insensitively) in the
    patient ID or name, the study description, accession number or study UID. Empty fields match all."""

    status: str | None = None
    modality: str | None = None
    text: str = ""

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; expected one of {', '.join(STATUSES)}")

    def matches(self, item: WorklistItem) -> bool:
        study = item.study
        if self.status is not None and study.status != self.status:
            return False
        if self.modality and self.modality.upper() not in item.modalities:
            return False
        needle = self.text.strip().lower()
        haystack = (study.patient.patient_id, study.patient.patient_name, study.description, study.accession,
                    study.study_uid)
        return not needle or any(needle in field.lower() for field in haystack)


class Worklist:
    """A queue over ``catalog``; the position and filter persist in ``state_path``."""

    def __init__(self, catalog: Catalog, state_path: str | os.PathLike | None = None) -> None:
        self.catalog = catalog
        self.state_path = Path(state_path) if state_path is not None else data_dir() / STATE_NAME
        self._state = self._load_state()

    # -- the queue -----------------------------------------------------------------------------------------

    @property
    def filter(self) -> WorklistFilter:
        return WorklistFilter(**self._state["filter"])

    def set_filter(self, worklist_filter: WorklistFilter) -> None:
        """Show only the studies ``worklist_filter`` matches (persisted)."""
        self._state["filter"] = asdict(worklist_filter)
        self._save_state()

    def items(self) -> list[WorklistItem]:
        """The studies the filter matches, in catalog order (study date and time)."""
        return [item for item in self._all_items() if self.filter.matches(item)]

    def counts(self) -> dict[str, int]:
        """How many studies of the whole catalog are in each status."""
        counts = dict.fromkeys(STATUSES, 0)
        for study in self.catalog.studies():
            counts[study.status] += 1
        return counts

    # -- moving through it ---------------------------------------------------------------------------------

    @property
    def current(self) -> WorklistItem | None:
        """The study opened last (whether or not the filter still shows it)."""
        uid = self._state["study_uid"]
        return next((item for item in self._all_items() if item.study_uid == uid), None)

    def open(self, study_uid: str) -> WorklistItem:
        """Make ``study_uid`` the current study; a 'to do' study becomes 'in progress'."""
        if self.catalog.status(study_uid) == TO_DO:
            self.catalog.set_status(study_uid, IN_PROGRESS)
        if study_uid != self._state["study_uid"]:
            self._state.update(study_uid=study_uid, position={})
            self._save_state()
        return next(item for item in self._all_items() if item.study_uid == study_uid)

    def next(self) -> WorklistItem | None:
        """Open the next study the filter shows after the current one (None at the end of the queue)."""
        return self._step(+1)

    def previous(self) -> WorklistItem | None:
        """Open the study the filter shows before the current one (None at the start of the queue)."""
        return self._step(-1)

    def resume(self) -> tuple[WorklistItem, dict[str, Any]] | None:
        """The study left off last and the viewer position saved in it, if that study is still catalogued."""
        item = self.current
        if item is None:
            return None
        return self.open(item.study_uid), dict(self._state["position"])

    # -- what the annotator records ------------------------------------------------------------------------

    def set_status(self, status: str, study_uid: str | None = None) -> None:
        """Set the status of ``study_uid`` (default: the current study) in the catalog."""
        uid = study_uid or self._state["study_uid"]
        if uid is None:
            raise ValueError("no study is open; pass study_uid")
        self.catalog.set_status(uid, status)

    def save_position(self, position: dict[str, Any]) -> None:
        """Remember where the viewer is in the current study (JSON-serialisable, e.g. {'slice': 42})."""
        if self._state["study_uid"] is None:
            raise ValueError("no study is open")
        self._state["position"] = dict(position)
        self._save_state()

    # -- internals -----------------------------------------------------------------------------------------

    def _all_items(self) -> list[WorklistItem]:
        items = []
        for study in self.catalog.studies():
            modalities = sorted({row.modality.upper() for row in self.catalog.series(study.study_uid)} - {""})
            items.append(WorklistItem(study, tuple(modalities)))
        return items

    def _step(self, direction: int) -> WorklistItem | None:
        everything = self._all_items()
        uids = [item.study_uid for item in everything]
        uid = self._state["study_uid"]
        here = uids.index(uid) if uid in uids else (-1 if direction > 0 else len(uids))
        order = range(here + 1, len(everything)) if direction > 0 else range(here - 1, -1, -1)
        for index in order:
            if self.filter.matches(everything[index]):
                return self.open(everything[index].study_uid)
        return None

    def _load_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"study_uid": None, "position": {}, "filter": asdict(WorklistFilter())}
        if self.state_path.exists():
            try:
                stored = json.loads(self.state_path.read_text(encoding="utf-8"))
                WorklistFilter(**stored["filter"])
                state.update(study_uid=stored["study_uid"], position=dict(stored["position"]),
                             filter=stored["filter"])
            except (ValueError, KeyError, TypeError):
                pass  # an unreadable state file only loses the position: start from the top of the queue
        return state

    def _save_state(self) -> None:
        atomic_write_bytes(self.state_path, json.dumps(self._state, indent=1).encode())
