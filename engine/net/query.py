"""C-FIND (Study Root) at study and series level, with progress and cancel (C-CANCEL)."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pynetdicom import DEFAULT_TRANSFER_SYNTAXES

from engine.net.association import DicomNetError, associate
from engine.net.matches import SERIES_RETURN_KEYS, STUDY_RETURN_KEYS, SeriesMatch, StudyMatch
from engine.net.pacs_config import PacsConfig
from engine.net.sop_classes import StudyRootQueryRetrieveInformationModelFind as FindModel
from engine.net.uids import checked_uid
from engine.progress import Cancelled, CancelToken, ProgressCallback, report

PENDING = (0xFF00, 0xFF01)
CANCEL = 0xFE00


def find_studies(
    pacs: PacsConfig,
    *,
    patient_id: str = "",
    patient_name: str = "",
    study_date: str = "",
    accession: str = "",
    modality: str = "",
    study_uid: str = "",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[StudyMatch]:
    """Studies matching the filters (DICOM matching: ``*`` wildcards, ``20240101-20240131`` date ranges)."""
    identifier = _identifier("STUDY", STUDY_RETURN_KEYS)
    identifier.PatientID = patient_id
    identifier.PatientName = patient_name
    identifier.StudyDate = study_date
    identifier.AccessionNumber = accession
    identifier.ModalitiesInStudy = modality
    identifier.StudyInstanceUID = checked_uid(study_uid, "StudyInstanceUID") if study_uid else ""
    return [StudyMatch.from_dataset(ds) for ds in _find(pacs, identifier, progress, cancel)]


def find_series(
    pacs: PacsConfig,
    study_uid: str,
    *,
    modality: str = "",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[SeriesMatch]:
    """The series of one study."""
    identifier = _identifier("SERIES", SERIES_RETURN_KEYS)
    identifier.StudyInstanceUID = checked_uid(study_uid, "StudyInstanceUID")
    identifier.Modality = modality
    matches = [SeriesMatch.from_dataset(ds) for ds in _find(pacs, identifier, progress, cancel)]
    return sorted(matches, key=lambda m: (m.series_number is None, m.series_number or 0, m.series_uid))


def _identifier(level: str, keys: tuple[str, ...]) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword in keys:
        setattr(ds, keyword, "")
    return ds


def _find(
    pacs: PacsConfig, identifier: Dataset, progress: ProgressCallback | None, cancel: CancelToken | None
) -> list[Dataset]:
    matches: list[Dataset] = []
    cancel_sent = False
    with associate(pacs, [(FindModel, DEFAULT_TRANSFER_SYNTAXES)]) as assoc:
        for status, match in assoc.send_c_find(identifier, FindModel, msg_id=1):
            if "Status" not in status:
                raise DicomNetError(f"no C-FIND response from {pacs.called_ae} (timeout or abort)")
            code = status.Status
            if code in PENDING:
                if match is not None:
                    matches.append(match)
                    report(progress, len(matches), 0, f"{len(matches)} match(es)")
                if cancel is not None and cancel.cancelled and not cancel_sent:
                    assoc.send_c_cancel(1, query_model=FindModel)
                    cancel_sent = True
            elif code == CANCEL:
                cancel_sent = True
            elif code != 0x0000:
                comment = status.get("ErrorComment", "")
                raise DicomNetError(f"C-FIND failed with status 0x{code:04X} {comment}".strip())
    if cancel_sent:
        raise Cancelled("query cancelled by the user")
    return matches
