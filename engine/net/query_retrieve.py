"""The query/retrieve dialog's logic, Qt-free: search a configured PACS (C-FIND or QIDO-RS) by patient
name, ID, date range, modality and accession; the results as table rows; retrieve chosen studies (C-GET,
C-MOVE to a storage SCP run for the duration, or WADO-RS) into a folder and the catalog, with progress and
cancel; and "retrieve priors": the open patient's other studies that the catalog does not hold yet.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.catalog import Catalog
from engine.net.association import DicomNetError
from engine.net.matches import StudyMatch
from engine.net.pacs_config import PacsConfig
from engine.progress import Cancelled, CancelToken, ProgressCallback, report

METHODS = ("get", "move", "wado")
COLUMNS = ("Patient", "Patient ID", "Date", "Modality", "Description", "Accession", "Series", "Images")
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


@dataclass(frozen=True)
class SearchCriteria:
    """What the reader typed. Dates as YYYYMMDD or YYYY-MM-DD; an empty end leaves the range open."""

    patient_name: str = ""
    patient_id: str = ""
    date_from: str = ""
    date_to: str = ""
    modality: str = ""
    accession: str = ""

    def problems(self) -> list[str]:
        """Why the search cannot be sent (empty when it can)."""
        problems = []
        for label, value in (("from date", self.date_from), ("to date", self.date_to)):
            if value.strip() and _dicom_date(value) is None:
                problems.append(f"{label} {value!r} is not a date (YYYY-MM-DD)")
        start, end = _dicom_date(self.date_from), _dicom_date(self.date_to)
        if start and end and start > end:
            problems.append(f"the from date {self.date_from} is after the to date {self.date_to}")
        if self.modality.strip() and not re.fullmatch(r"[A-Za-z]{2,4}", self.modality.strip()):
            problems.append(f"modality {self.modality!r} is not a DICOM modality code (e.g. CT, MR)")
        for label, value in (("patient name", self.patient_name), ("patient ID", self.patient_id),
                             ("accession", self.accession)):
            if "\\" in value:
                problems.append(f"{label} must not contain a backslash")
        return problems

    def date_range(self) -> str:
        """The DICOM date range: '', '20240101', '20240101-20240131', '20240101-' or '-20240131'."""
        start, end = _dicom_date(self.date_from) or "", _dicom_date(self.date_to) or ""
        if start and start == end:
            return start
        return f"{start}-{end}" if start or end else ""

    def filters(self) -> dict[str, str]:
        """The C-FIND / QIDO-RS filters (a name without wildcard matches names starting with it)."""
        name = self.patient_name.strip()
        if name and not any(c in name for c in "*?"):
            name += "*"
        return {"patient_name": name, "patient_id": self.patient_id.strip(), "study_date": self.date_range(),
                "accession": self.accession.strip(), "modality": self.modality.strip().upper()}


def search(pacs: PacsConfig, criteria: SearchCriteria, *, dicomweb: bool = False,
           progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> list[StudyMatch]:
    """Studies matching ``criteria``, newest first (ValueError for criteria that cannot be sent)."""
    problems = criteria.problems()
    if problems:
        raise ValueError("; ".join(problems))
    if dicomweb:
        matches = _qido_studies(pacs, criteria.filters())
    else:
        from engine.net.query import find_studies

        matches = find_studies(pacs, **criteria.filters(), progress=progress, cancel=cancel)
    return sorted(matches, key=lambda m: (m.date, m.time, m.study_uid), reverse=True)


def _qido_studies(pacs: PacsConfig, filters: dict[str, str]) -> list[StudyMatch]:
    """QIDO-RS study search with the wildcards left as they are in the query string ('*' percent-encoded as
    dicomweb-client sends it is matched literally by some servers, Orthanc among them)."""
    from urllib.parse import urlencode

    import requests
    from pydicom.dataset import Dataset

    from engine.net.dicomweb import session_for
    from engine.net.matches import STUDY_RETURN_KEYS

    if not pacs.dicomweb_url:
        raise DicomNetError(f"PACS {pacs.name!r} has no dicomweb_url")
    keywords = {"patient_name": "PatientName", "patient_id": "PatientID", "study_date": "StudyDate",
                "accession": "AccessionNumber", "modality": "ModalitiesInStudy"}
    params = [(keywords[k], v) for k, v in filters.items() if v]
    params += [("includefield", keyword) for keyword in STUDY_RETURN_KEYS]
    url = f"{pacs.dicomweb_url.rstrip('/')}/studies?{urlencode(params, safe='*?^-')}"
    try:
        response = session_for(pacs).get(url, headers={"Accept": "application/dicom+json"}, timeout=pacs.timeout)
        response.raise_for_status()
    except requests.HTTPError as error:
        code = error.response.status_code if error.response is not None else "?"
        hint = " (check the DICOMweb credentials)" if code in (401, 403) else ""
        raise DicomNetError(f"QIDO-RS search at {pacs.dicomweb_url} failed: HTTP {code}{hint}") from error
    except requests.RequestException as error:
        raise DicomNetError(f"cannot reach {pacs.dicomweb_url}: {error}") from error
    found = response.json() if response.status_code != 204 and response.content else []
    return [StudyMatch.from_dataset(Dataset.from_json(item)) for item in found]


def table_row(match: StudyMatch) -> tuple[str, ...]:
    """One results-table row, in :data:`COLUMNS` order."""
    date = match.date
    if len(date) == 8 and date.isdigit():
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    return (match.patient_name.replace("^", " ").strip(), match.patient_id, date, "/".join(match.modalities),
            match.description, match.accession, "" if match.n_series is None else str(match.n_series),
            "" if match.n_instances is None else str(match.n_instances))


@dataclass
class StudyOutcome:
    """What retrieving one study gave: new files, instances completed / failed, and messages."""

    study_uid: str
    files: int = 0
    completed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class RetrieveOutcome:
    """The outcome of one retrieve action over several studies."""

    studies: list[StudyOutcome] = field(default_factory=list)
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(not s.failed and not s.errors for s in self.studies)

    def summary(self) -> str:
        files = sum(s.files for s in self.studies)
        failed = sum(s.failed for s in self.studies)
        text = f"{len(self.studies)} stud{'y' if len(self.studies) == 1 else 'ies'}, {files} new file(s)"
        if failed:
            text += f", {failed} failed"
        errors = [e for s in self.studies for e in s.errors]
        if errors:
            text += f"; {errors[0]}"
        return text + (" (cancelled)" if self.cancelled else "")


def retrieve(pacs: PacsConfig, study_uids: list[str], catalog: Catalog, directory: str | os.PathLike, *,
             method: str = "get", progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None) -> RetrieveOutcome:
    """Retrieve each study into ``directory`` and the catalog; progress counts instances per study
    ('study 2 of 3: 14 of 40 instance(s)'). A cancel stops after what the PACS already delivered (kept)."""
    if method not in METHODS:
        raise ValueError(f"unknown retrieve method {method!r}; expected one of {', '.join(METHODS)}")
    outcome = RetrieveOutcome()
    for number, uid in enumerate(study_uids, start=1):
        if cancel is not None and cancel.cancelled:
            outcome.cancelled = True
            break
        prefix = f"study {number} of {len(study_uids)}"

        def step(done: int, total: int, message: str, prefix: str = prefix) -> None:
            report(progress, done, total, f"{prefix}: {message}")

        study = StudyOutcome(uid)
        outcome.studies.append(study)
        try:
            cancelled = _RETRIEVERS[method](pacs, uid, catalog, Path(directory), study, step, cancel)
        except Cancelled:
            cancelled = True
        if cancelled:
            outcome.cancelled = True
            break
    return outcome


def prior_studies(pacs: PacsConfig, patient_id: str, current_study_uid: str, *, catalog: Catalog | None = None,
                  dicomweb: bool = False, cancel: CancelToken | None = None) -> list[StudyMatch]:
    """The patient's studies on the PACS other than the current one (and, with ``catalog``, other than those
    already catalogued), newest first. The match is on the exact patient ID: no wildcards."""
    if not patient_id.strip() or any(c in patient_id for c in "*?\\"):
        raise ValueError(f"retrieving priors needs the exact patient ID of the open study, got {patient_id!r}")
    matches = search(pacs, SearchCriteria(patient_id=patient_id.strip()), dicomweb=dicomweb, cancel=cancel)
    matches = [m for m in matches if m.patient_id == patient_id.strip() and m.study_uid != current_study_uid]
    if catalog is not None:
        matches = [m for m in matches if catalog.study(m.study_uid) is None]
    return matches


def retrieve_priors(pacs: PacsConfig, patient_id: str, current_study_uid: str, catalog: Catalog,
                    directory: str | os.PathLike, *, method: str = "get", dicomweb_search: bool = False,
                    progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> tuple[list[StudyMatch], RetrieveOutcome]:
    """Find the open patient's priors not yet in the catalog and retrieve them all."""
    found = prior_studies(pacs, patient_id, current_study_uid, catalog=catalog, dicomweb=dicomweb_search,
                          cancel=cancel)
    return found, retrieve(pacs, [m.study_uid for m in found], catalog, directory, method=method,
                           progress=progress, cancel=cancel)


def default_directory() -> Path:
    """Where retrieved studies are written: ``<user data folder>/received`` (as `sightline pacs retrieve`)."""
    from engine.paths import data_dir

    return data_dir() / "received"


def _by_get(pacs: PacsConfig, uid: str, catalog: Catalog, directory: Path, study: StudyOutcome,
            progress: ProgressCallback, cancel: CancelToken | None) -> bool:
    from engine.net.retrieve import get

    result = get(pacs, directory, uid, catalog=catalog, progress=progress, cancel=cancel)
    study.files, study.completed, study.failed = len(result.files), result.completed, result.failed
    study.errors += result.errors
    return result.cancelled


def _by_move(pacs: PacsConfig, uid: str, catalog: Catalog, directory: Path, study: StudyOutcome,
             progress: ProgressCallback, cancel: CancelToken | None) -> bool:
    """C-MOVE to a storage SCP run for the duration on the entry's receive port and AE title."""
    from engine.net.instance_store import WriteOutcome
    from engine.net.retrieve import move
    from engine.net.storage_scp import StorageServer

    received: list[bool] = []
    server = StorageServer(directory, ae_title=pacs.our_ae, port=pacs.receive_port, catalog=catalog,
                           timeout=pacs.timeout,
                           on_instance=lambda _ae, stored: received.append(stored.outcome is WriteOutcome.STORED))
    try:
        server.start()
    except OSError as error:
        raise DicomNetError(f"cannot receive the C-MOVE on port {pacs.receive_port} ({error}); stop the "
                            "DICOM receiver or retrieve by C-GET") from error
    try:
        result = move(pacs, pacs.our_ae, uid, progress=progress, cancel=cancel)
        server.wait_idle(pacs.timeout * 4)
    finally:
        server.stop()
    study.files, study.completed, study.failed = sum(received), result.completed, result.failed
    study.errors += result.errors
    return result.cancelled


def _by_wado(pacs: PacsConfig, uid: str, catalog: Catalog, directory: Path, study: StudyOutcome,
             progress: ProgressCallback, cancel: CancelToken | None) -> bool:
    from engine.net import dicomweb

    series = dicomweb.search_series(pacs, uid)
    total = sum(s.n_instances or 0 for s in series)
    done = 0
    for match in series:
        base = done

        def step(count: int, _total: int, _message: str, base: int = base) -> None:
            progress(base + count, max(total, base + count), f"{base + count} of {total} instance(s)")

        result = dicomweb.retrieve_series(pacs, uid, match.series_uid, directory, catalog=catalog,
                                          progress=step, cancel=cancel)
        study.files += len(result.files)
        study.completed += len(result.files) + result.identical
        study.errors += result.warnings
        done += len(result.files) + result.identical + len(result.warnings)
    return False


_RETRIEVERS = {"get": _by_get, "move": _by_move, "wado": _by_wado}


def _dicom_date(value: str) -> str | None:
    match = _DATE.match(value.strip())
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and year >= 1800):
        return None
    return "".join(match.groups())
