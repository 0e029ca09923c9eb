"""Priors: the open patient's other studies in the catalog (newest first), and the prior series that matches
a current series — by modality, then body part, then description, then orientation. Qt-free."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog, SeriesKey, SeriesRow, StudyRow
from engine.geometry import Geometry
from engine.series import SeriesInfo

_WORD = re.compile(r"[a-z0-9]+")
_ORIENTATIONS = {"axial": 2, "coronal": 1, "sagittal": 0}  # LPS axis of the slice normal


@dataclass(frozen=True)
class SeriesFacts:
    """What matching a prior needs to know about a catalogued series."""

    key: SeriesKey
    study_uid: str
    modality: str
    body_part: str
    description: str
    orientation: str  # axial / coronal / sagittal / projection / "" (unknown)
    frame_of_reference_uid: str
    n_instances: int


def priors(catalog: Catalog, study_uid: str) -> list[StudyRow]:
    """The other catalogued studies of ``study_uid``'s patient, newest first (date, then time)."""
    current = catalog.study(study_uid)
    if current is None:
        return []
    others = [study for study in catalog.studies(current.patient) if study.study_uid != study_uid]
    return sorted(others, key=lambda s: (s.date or "", s.time or "", s.study_uid), reverse=True)


def series_facts(catalog: Catalog, row: SeriesRow, body_part: str | None = None) -> SeriesFacts:
    """The matching facts of a catalogued stack (body part from the first instance's header, unless given:
    a loaded Volume's meta has it already)."""
    info = catalog.series_info(row.key)
    body = _body_part(info) if body_part is None else body_part.strip().upper()
    return SeriesFacts(row.key, row.study_uid, row.modality.upper(), body, row.description,
                       orientation_of(info.geometry), row.frame_of_reference_uid, row.n_instances)


def study_facts(catalog: Catalog, study_uid: str) -> list[SeriesFacts]:
    return [series_facts(catalog, row) for row in catalog.series(study_uid)]


def orientation_of(geometry: Geometry | None) -> str:
    """The acquisition plane of a geometry: the patient axis its slice normal is closest to."""
    if geometry is None:
        return ""
    if geometry.is_projection:
        return "projection"
    normal = np.abs(geometry.direction[:, 2])
    axis = int(np.argmax(normal))
    return next(name for name, lps in _ORIENTATIONS.items() if lps == axis)


def description_similarity(a: str, b: str) -> float:
    """Word overlap of two series descriptions (Jaccard, 0..1); equal text scores 1."""
    if a.strip().lower() == b.strip().lower():
        return 1.0
    words_a, words_b = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not words_a or not words_b:
        return 0.0
    return len(words_a & words_b) / len(words_a | words_b)


def match_score(current: SeriesFacts, candidate: SeriesFacts) -> tuple[int, float, int, int] | None:
    """None when ``candidate`` cannot be a prior of ``current`` (other modality, or another body part when
    both headers name one); else a score compared in order: body part, description, orientation, size."""
    if current.modality != candidate.modality:
        return None
    body = 0
    if current.body_part and candidate.body_part:
        if current.body_part.upper() != candidate.body_part.upper():
            return None
        body = 1
    orientation = int(bool(current.orientation) and current.orientation == candidate.orientation)
    return body, description_similarity(current.description, candidate.description), orientation, \
        candidate.n_instances


def match_prior_series(current: SeriesFacts, candidates: list[SeriesFacts]) -> SeriesFacts | None:
    """The candidate that best matches ``current`` (None when none can)."""
    scored = [(score, candidate) for candidate in candidates
              if (score := match_score(current, candidate)) is not None]
    if not scored:
        return None
    return max(scored, key=lambda pair: pair[0])[1]


@dataclass(frozen=True)
class PriorMatch:
    """A prior study and, when one matches, its series for the current one."""

    study: StudyRow
    series: SeriesFacts | None


def matching_priors(catalog: Catalog, current: SeriesFacts) -> list[PriorMatch]:
    """Every prior study of ``current``'s patient, newest first, each with its matching series (or None)."""
    return [PriorMatch(study, match_prior_series(current, study_facts(catalog, study.study_uid)))
            for study in priors(catalog, current.study_uid)]


def first_matching_prior(catalog: Catalog, current: SeriesFacts) -> PriorMatch | None:
    """The newest prior study that has a matching series (what "compare with prior" puts beside)."""
    return next((match for match in matching_priors(catalog, current) if match.series is not None), None)


def _body_part(info: SeriesInfo) -> str:
    """BodyPartExamined of the first instance (read from its header; '' when absent or unreadable)."""
    if not info.instances:
        return ""
    import io

    import pydicom  # on use: start-up does not import pydicom

    try:
        data = info.instances[0].ref.read_bytes()
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=["BodyPartExamined"])
    except (OSError, ValueError, pydicom.errors.InvalidDicomError):
        return ""
    return str(ds.get("BodyPartExamined", "") or "").strip().upper()
