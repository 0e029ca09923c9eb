"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) against a real Orthanc with HTTP basic auth."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from engine.catalog import Catalog
from engine.net import dicomweb
from engine.net.association import DicomNetError
from engine.net.pacs_config import Auth
from tests.net.conftest import OrthancServer
from tests.net.factory import PATIENT_ID, write_series

pytestmark = [pytest.mark.network, pytest.mark.timeout(180)]


def _stowed_study(orthanc: OrthancServer, tmp_path: Path) -> tuple[str, str, list[Path]]:
    study_uid = pydicom.uid.generate_uid()
    files = write_series(tmp_path / "a", 4, study_uid, series_number=1)
    files += write_series(tmp_path / "b", 2, study_uid, series_number=2)
    result = dicomweb.store(orthanc.pacs(), files)
    assert not result.failed and len(result.stored) == len(files)
    series_uid = str(pydicom.dcmread(files[0]).SeriesInstanceUID)
    return study_uid, series_uid, files


def test_stow_then_qido_studies_and_series(clean_orthanc: OrthancServer, tmp_path: Path) -> None:
    study_uid, series_uid, files = _stowed_study(clean_orthanc, tmp_path)
    studies = dicomweb.search_studies(clean_orthanc.pacs(), patient_id=PATIENT_ID)
    assert [s.study_uid for s in studies] == [study_uid]
    assert studies[0].n_instances == len(files)
    assert dicomweb.search_studies(clean_orthanc.pacs(), patient_id="NOBODY") == []
    series = dicomweb.search_series(clean_orthanc.pacs(), study_uid)
    assert [(s.series_number, s.n_instances) for s in series] == [(1, 4), (2, 2)]
    assert series[0].series_uid == series_uid


def test_wado_series_into_folder_and_catalog(clean_orthanc: OrthancServer, tmp_path: Path) -> None:
    study_uid, series_uid, files = _stowed_study(clean_orthanc, tmp_path)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        result = dicomweb.retrieve_series(
            clean_orthanc.pacs(), study_uid, series_uid, tmp_path / "web", catalog=catalog
        )
        assert len(result.files) == 4
        assert catalog.counts()["instances"] == 4
    original = {str(pydicom.dcmread(f).SOPInstanceUID): pydicom.dcmread(f).PixelData for f in files[:4]}
    assert {
        str(pydicom.dcmread(f).SOPInstanceUID): pydicom.dcmread(f).PixelData for f in result.files
    } == original
    again = dicomweb.retrieve_series(clean_orthanc.pacs(), study_uid, series_uid, tmp_path / "web")
    assert again.files == [] and again.identical == 4


def test_wrong_password_is_reported(orthanc: OrthancServer) -> None:
    pacs = orthanc.pacs(auth=Auth("basic", username="reader", password="wrong"))
    with pytest.raises(DicomNetError, match="HTTP 401"):
        dicomweb.search_studies(pacs)


def test_password_from_environment(orthanc: OrthancServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.net.conftest import ORTHANC_PASSWORD

    monkeypatch.setenv("SIGHTLINE_TEST_PACS_PASSWORD", ORTHANC_PASSWORD)
    pacs = orthanc.pacs(auth=Auth("basic", username="reader", password_env="SIGHTLINE_TEST_PACS_PASSWORD"))
    assert isinstance(dicomweb.search_studies(pacs), list)
