"""DICOMweb against a configured PACS: QIDO-RS search, WADO-RS series retrieve, STOW-RS store.

Credentials come from the PACS's ``auth`` (:class:`engine.net.pacs_config.Auth`): HTTP basic, or a
bearer token in the Authorization header, on one ``requests`` session.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pydicom
import requests
from dicomweb_client import DICOMwebClient
from pydicom.dataset import Dataset

from engine.catalog import Catalog, ImportReport
from engine.net.association import DicomNetError
from engine.net.indexer import index_files
from engine.net.instance_store import InstanceStore, WriteOutcome
from engine.net.matches import SERIES_RETURN_KEYS, STUDY_RETURN_KEYS, SeriesMatch, StudyMatch
from engine.net.pacs_config import PacsConfig
from engine.net.uids import checked_uid
from engine.progress import CancelToken, ProgressCallback, report

T = TypeVar("T")
STOW_BATCH = 50  # instances per STOW-RS request (bounds the request size)
# Ask for the stored transfer syntax: no transcoding on the server, the pixel bytes stay as they are.
ORIGINAL_SYNTAX = (("application/dicom", "*"),)


@dataclass
class WadoResult:
    """What a WADO-RS series retrieve wrote (new files) and found already stored."""

    files: list[Path] = field(default_factory=list)
    identical: int = 0
    warnings: list[str] = field(default_factory=list)
    catalog: ImportReport | None = None


@dataclass
class StowResult:
    """SOP Instance UIDs the server stored, and the ones it refused (with its failure reason)."""

    stored: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def session_for(pacs: PacsConfig) -> requests.Session:
    """A requests session carrying the PACS's credentials (if any)."""
    session = requests.Session()
    auth = pacs.auth
    if auth is not None and auth.type == "basic":
        session.auth = (auth.username, auth.secret())
    elif auth is not None:
        session.headers["Authorization"] = f"Bearer {auth.secret()}"
    return session


def client_for(pacs: PacsConfig) -> DICOMwebClient:
    """A DICOMweb client for the PACS's ``dicomweb_url``."""
    if not pacs.dicomweb_url:
        raise DicomNetError(f"PACS {pacs.name!r} has no dicomweb_url")
    return DICOMwebClient(pacs.dicomweb_url.rstrip("/"), session=session_for(pacs), timeout=pacs.timeout)


def search_studies(
    pacs: PacsConfig,
    *,
    patient_id: str = "",
    patient_name: str = "",
    study_date: str = "",
    accession: str = "",
    modality: str = "",
    study_uid: str = "",
    limit: int | None = None,
) -> list[StudyMatch]:
    """QIDO-RS studies matching the filters (same matching rules as C-FIND)."""
    filters = {
        "PatientID": patient_id,
        "PatientName": patient_name,
        "StudyDate": study_date,
        "AccessionNumber": accession,
        "ModalitiesInStudy": modality,
        "StudyInstanceUID": checked_uid(study_uid, "StudyInstanceUID") if study_uid else "",
    }
    found = _call(
        lambda client: client.search_for_studies(
            search_filters={k: v for k, v in filters.items() if v},
            fields=list(STUDY_RETURN_KEYS),
            limit=limit,
        ),
        pacs,
    )
    return [StudyMatch.from_dataset(Dataset.from_json(item)) for item in found]


def search_series(pacs: PacsConfig, study_uid: str) -> list[SeriesMatch]:
    """QIDO-RS series of one study."""
    uid = checked_uid(study_uid, "StudyInstanceUID")
    found = _call(
        lambda client: client.search_for_series(study_instance_uid=uid, fields=list(SERIES_RETURN_KEYS)), pacs
    )
    matches = [SeriesMatch.from_dataset(Dataset.from_json(item)) for item in found]
    return sorted(matches, key=lambda m: (m.series_number is None, m.series_number or 0, m.series_uid))


def retrieve_series(
    pacs: PacsConfig,
    study_uid: str,
    series_uid: str,
    directory: str | os.PathLike,
    *,
    catalog: Catalog | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> WadoResult:
    """WADO-RS every instance of a series into ``directory/<study>/<series>/<instance>.dcm``, then index."""
    study, series = checked_uid(study_uid, "StudyInstanceUID"), checked_uid(series_uid, "SeriesInstanceUID")
    store = InstanceStore(directory)
    result = WadoResult()

    def fetch(client: DICOMwebClient) -> None:
        for ds in client.iter_series(study, series, media_types=ORIGINAL_SYNTAX):
            if cancel is not None:
                cancel.raise_if_cancelled()
            written = store.write(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, _encode(ds))
            if written.outcome is WriteOutcome.STORED:
                result.files.append(written.path)
            elif written.outcome is WriteOutcome.IDENTICAL:
                result.identical += 1
            else:
                result.warnings.append(f"{ds.SOPInstanceUID} already stored with different content; kept it")
            count = len(result.files) + result.identical + len(result.warnings)
            report(progress, count, 0, f"{count} instance(s)")

    _call(fetch, pacs)
    if catalog is not None and result.files:
        result.catalog = index_files(catalog, result.files)
    return result


def store(
    pacs: PacsConfig, files: Iterable[str | os.PathLike], *, progress: ProgressCallback | None = None
) -> StowResult:
    """STOW-RS the files, :data:`STOW_BATCH` per request."""
    paths = [Path(f) for f in files]
    result = StowResult()
    for start in range(0, len(paths), STOW_BATCH):
        datasets = [pydicom.dcmread(p) for p in paths[start : start + STOW_BATCH]]
        response = _call(_stow(datasets), pacs)
        for item in response.get("ReferencedSOPSequence", []):
            result.stored.append(str(item.ReferencedSOPInstanceUID))
        for item in response.get("FailedSOPSequence", []):
            result.failed.append(
                (str(item.ReferencedSOPInstanceUID), f"failure reason {item.get('FailureReason')}")
            )
        report(progress, min(start + STOW_BATCH, len(paths)), len(paths), "stored")
    return result


def _encode(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _stow(datasets: Sequence[Dataset]) -> Callable[[DICOMwebClient], Dataset]:
    """The STOW-RS request of one batch (bound here, so that each batch sends its own datasets)."""
    return lambda client: client.store_instances(datasets=datasets)


def _call(operation: Callable[[DICOMwebClient], T], pacs: PacsConfig) -> T:
    """Run ``operation(client)``, turning HTTP and connection errors into DicomNetError."""
    try:
        return operation(client_for(pacs))
    except requests.HTTPError as error:
        code = error.response.status_code if error.response is not None else "?"
        hint = " (check the DICOMweb credentials)" if code in (401, 403) else ""
        raise DicomNetError(f"DICOMweb request to {pacs.dicomweb_url} failed: HTTP {code}{hint}") from error
    except requests.RequestException as error:
        raise DicomNetError(f"cannot reach {pacs.dicomweb_url}: {error}") from error
