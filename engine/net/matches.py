"""Query results (from C-FIND or QIDO-RS) as plain records."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydicom.dataset import Dataset

STUDY_RETURN_KEYS = (
    "StudyInstanceUID", "PatientID", "PatientName", "PatientBirthDate", "StudyDate", "StudyTime",
    "StudyDescription", "AccessionNumber", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)  # fmt: skip
SERIES_RETURN_KEYS = (
    "StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
    "NumberOfSeriesRelatedInstances",
)  # fmt: skip


@dataclass(frozen=True)
class StudyMatch:
    """One study a PACS returned."""

    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    birth_date: str = ""
    date: str = ""
    time: str = ""
    description: str = ""
    accession: str = ""
    modalities: tuple[str, ...] = ()
    n_series: int | None = None
    n_instances: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StudyMatch:
        modalities = ds.get("ModalitiesInStudy", "") or ()
        return cls(
            study_uid=_text(ds, "StudyInstanceUID"),
            patient_id=_text(ds, "PatientID"),
            patient_name=_text(ds, "PatientName"),
            birth_date=_text(ds, "PatientBirthDate"),
            date=_text(ds, "StudyDate"),
            time=_text(ds, "StudyTime"),
            description=_text(ds, "StudyDescription"),
            accession=_text(ds, "AccessionNumber"),
            modalities=(str(modalities),)
            if isinstance(modalities, str)
            else tuple(str(m) for m in modalities),
            n_series=_number(ds, "NumberOfStudyRelatedSeries"),
            n_instances=_number(ds, "NumberOfStudyRelatedInstances"),
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "modalities": list(self.modalities)}


@dataclass(frozen=True)
class SeriesMatch:
    """One series a PACS returned."""

    study_uid: str
    series_uid: str
    modality: str = ""
    series_number: int | None = None
    description: str = ""
    n_instances: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> SeriesMatch:
        return cls(
            study_uid=_text(ds, "StudyInstanceUID"),
            series_uid=_text(ds, "SeriesInstanceUID"),
            modality=_text(ds, "Modality"),
            series_number=_number(ds, "SeriesNumber"),
            description=_text(ds, "SeriesDescription"),
            n_instances=_number(ds, "NumberOfSeriesRelatedInstances"),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value)


def _number(ds: Dataset, keyword: str) -> int | None:
    try:
        return int(ds.get(keyword))
    except (TypeError, ValueError):
        return None
