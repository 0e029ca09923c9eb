"""The query/retrieve dialog's engine functions (engine.net.query_retrieve) against Orthanc on loopback:
search by name / ID / date range / modality / accession, retrieve with progress and cancel into the catalog,
and "retrieve priors" of the open patient."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.viewer_model.priors import priors
from engine.catalog import Catalog
from engine.dicom.scanner import scan
from engine.net.query_retrieve import (
    SearchCriteria,
    prior_studies,
    retrieve,
    retrieve_priors,
    search,
    table_row,
)
from engine.net.send import send
from engine.progress import CancelToken
from tests.app.comparison_phantoms import PhantomStudy, write_ct_study
from tests.net.conftest import OrthancServer

pytestmark = [pytest.mark.network, pytest.mark.timeout(240)]
OTHER = {"PatientName": "Other^Person", "PatientID": "OTH-9", "PatientBirthDate": "19800101"}


def _study(root: Path, name: str, date: str, n: int = 4, **kwargs) -> PhantomStudy:
    return write_ct_study(root / name, date=date, shift=(0, 0, 0), slice_mm=5.0, n_slices=n, z_first=0.0,
                          size=32, **kwargs)


@pytest.fixture
def pacs_with_history(clean_orthanc: OrthancServer, tmp_path: Path):
    root = tmp_path / "src"
    studies = {
        "current": _study(root, "current", "20250310"),
        "prior1": _study(root, "prior1", "20230905", n=6),
        "prior2": _study(root, "prior2", "20210101", description="Chest 5 mm"),
        "stranger": _study(root, "stranger", "20240101", patient=OTHER),
    }
    for study in studies.values():
        assert send(clean_orthanc.pacs(), sorted(study.folder.glob("*.dcm"))).ok
    return clean_orthanc, studies


def test_criteria_are_checked_and_become_dicom_filters() -> None:
    criteria = SearchCriteria(patient_name="compare", date_from="2023-01-01", date_to="2024-12-31", modality="ct")
    assert criteria.problems() == []
    assert criteria.filters() == {"patient_name": "compare*", "patient_id": "", "study_date": "20230101-20241231",
                                  "accession": "", "modality": "CT"}
    assert SearchCriteria(date_from="20240101").date_range() == "20240101-"
    assert SearchCriteria(date_to="20240101").date_range() == "-20240101"
    assert SearchCriteria(date_from="2024-01-01", date_to="2024-01-01").date_range() == "20240101"
    assert "not a date" in SearchCriteria(date_from="1.1.2024").problems()[0]
    assert "after the to date" in SearchCriteria(date_from="20250101", date_to="20240101").problems()[0]
    assert "modality" in SearchCriteria(modality="C T").problems()[0]


@pytest.mark.parametrize("dicomweb", [False, True], ids=["c-find", "qido-rs"])
def test_search_by_name_id_dates_modality_accession(pacs_with_history, dicomweb: bool) -> None:
    orthanc, studies = pacs_with_history
    pacs = orthanc.pacs()

    def uids(**criteria: str) -> list[str]:
        return [m.study_uid for m in search(pacs, SearchCriteria(**criteria), dicomweb=dicomweb)]

    mine = [studies[k].study_uid for k in ("current", "prior1", "prior2")]  # newest first
    assert uids(patient_name="Compare") == mine
    assert uids(patient_id="CMP-001") == mine
    assert uids(patient_id="CMP-001", date_from="2022-01-01", date_to="2024-12-31") == [studies["prior1"].study_uid]
    assert uids(patient_id="CMP-001", date_to="2022-01-01") == [studies["prior2"].study_uid]
    assert uids(accession="ACC20230905") == [studies["prior1"].study_uid]
    assert uids(patient_id="OTH-9", modality="CT") == [studies["stranger"].study_uid]
    assert uids(patient_id="CMP-001", modality="MR") == []
    row = table_row(search(pacs, SearchCriteria(accession="ACC20230905"), dicomweb=dicomweb)[0])
    assert row[:4] == ("Compare Phantom", "CMP-001", "2023-09-05", "CT") and row[-1] == "6"


@pytest.mark.parametrize("method", ["get", "move", "wado"])
def test_retrieve_priors_of_the_open_patient_into_the_catalog(pacs_with_history, tmp_path: Path,
                                                              method: str) -> None:
    orthanc, studies = pacs_with_history
    current = studies["current"]
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.import_scan(scan(current.folder))  # the open study is local
        assert priors(catalog, current.study_uid) == []
        seen: list[tuple[int, int, str]] = []
        found, outcome = retrieve_priors(orthanc.pacs(), "CMP-001", current.study_uid, catalog,
                                         tmp_path / "received", method=method,
                                         progress=lambda d, t, m: seen.append((d, t, m)))
        assert [m.study_uid for m in found] == [studies["prior1"].study_uid, studies["prior2"].study_uid]
        assert outcome.ok, outcome.summary()
        assert [s.files for s in outcome.studies] == [6, 4]
        assert any(m.startswith("study 2 of 2") for _, _, m in seen)
        listed = [s.study_uid for s in priors(catalog, current.study_uid)]
        assert listed == [studies["prior1"].study_uid, studies["prior2"].study_uid]  # newest first
        assert catalog.study(studies["stranger"].study_uid) is None  # never another patient's study
        again = prior_studies(orthanc.pacs(), "CMP-001", current.study_uid, catalog=catalog)
        assert again == []  # what the catalog holds is not offered again


def test_retrieve_cancelled_keeps_what_arrived(pacs_with_history, tmp_path: Path) -> None:
    orthanc, studies = pacs_with_history
    token = CancelToken()
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        outcome = retrieve(orthanc.pacs(), [studies["prior1"].study_uid, studies["prior2"].study_uid], catalog,
                           tmp_path / "received", progress=lambda d, t, m: token.cancel(), cancel=token)
        assert outcome.cancelled and not outcome.ok
        assert len(outcome.studies) == 1 and 0 < outcome.studies[0].files < 6
        assert "cancelled" in outcome.summary()


def test_priors_need_the_exact_patient_id(orthanc: OrthancServer) -> None:
    with pytest.raises(ValueError, match="exact patient ID"):
        prior_studies(orthanc.pacs(), "CMP*", "1.2.3")
