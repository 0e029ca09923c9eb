"""Our SCU against a real Orthanc on loopback: C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET, movescu, de-id send."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from engine.catalog import Catalog
from engine.deid import DeidOptions
from engine.net.association import DicomNetError
from engine.net.echo import echo
from engine.net.pacs_config import PacsConfig
from engine.net.query import find_series, find_studies
from engine.net.retrieve import get, move
from engine.net.send import send, send_deidentified
from engine.net.storage_scp import StorageServer
from engine.progress import CancelToken
from tests.net.conftest import MOVESCU_AE, ORTHANC_AE, OUR_AE, OrthancServer, free_port, run_tool
from tests.net.factory import PATIENT_ID, PATIENT_NAME, write_series

pytestmark = [pytest.mark.network, pytest.mark.timeout(180)]


def _study(tmp_path: Path, n_series: int = 2, n_slices: int = 3) -> tuple[str, list[Path]]:
    study_uid = pydicom.uid.generate_uid()
    files: list[Path] = []
    for number in range(1, n_series + 1):
        files += write_series(tmp_path / "src" / f"s{number}", n_slices, study_uid, series_number=number)
    return study_uid, files


def _pixels(path: Path) -> bytes:
    return pydicom.dcmread(path).PixelData


def _by_uid(files: list[Path]) -> dict[str, bytes]:
    return {str(pydicom.dcmread(f).SOPInstanceUID): _pixels(f) for f in files}


def test_echo(orthanc: OrthancServer) -> None:
    assert echo(orthanc.pacs()) >= 0


def test_echo_unreachable_port_is_a_clear_error() -> None:
    pacs = PacsConfig("nowhere", "127.0.0.1", free_port(), ORTHANC_AE, timeout=5.0)
    with pytest.raises(DicomNetError, match="no association"):
        echo(pacs)


def test_send_then_find_studies_and_series(clean_orthanc: OrthancServer, tmp_path: Path) -> None:
    study_uid, files = _study(tmp_path)
    progress: list[tuple[int, int]] = []
    result = send(clean_orthanc.pacs(), files, progress=lambda d, t, m: progress.append((d, t)))
    assert result.ok and len(result.sent) == len(files)
    assert progress[-1] == (len(files), len(files))

    studies = find_studies(clean_orthanc.pacs(), patient_id=PATIENT_ID)
    assert [s.study_uid for s in studies] == [study_uid]
    assert studies[0].patient_name == PATIENT_NAME and studies[0].n_instances == len(files)
    assert find_studies(clean_orthanc.pacs(), patient_id="NOBODY") == []

    series = find_series(clean_orthanc.pacs(), study_uid)
    assert [s.series_number for s in series] == [1, 2]
    assert all(s.modality == "CT" and s.n_instances == 3 for s in series)


def test_move_to_our_scp(clean_orthanc: OrthancServer, tmp_path: Path) -> None:
    study_uid, files = _study(tmp_path)
    assert send(clean_orthanc.pacs(), files).ok
    series_uid = find_series(clean_orthanc.pacs(), study_uid)[0].series_uid
    with StorageServer(
        tmp_path / "recv", ae_title=OUR_AE, port=clean_orthanc.scp_port, catalog=tmp_path / "c.sqlite"
    ) as server:
        result = move(clean_orthanc.pacs(), OUR_AE, study_uid, series_uid)
        assert server.wait_idle(60)
    assert result.ok and result.completed == 3 and result.failed == 0
    received = sorted((tmp_path / "recv").rglob("*.dcm"))
    assert len(received) == 3
    sent = _by_uid(files)
    assert all(sent[uid] == pixels for uid, pixels in _by_uid(received).items())
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert catalog.counts()["instances"] == 3


def test_get_into_folder_and_catalog(clean_orthanc: OrthancServer, tmp_path: Path) -> None:
    study_uid, files = _study(tmp_path)
    assert send(clean_orthanc.pacs(), files).ok
    progress: list[tuple[int, int]] = []
    with Catalog(tmp_path / "c.sqlite") as catalog:
        result = get(
            clean_orthanc.pacs(), tmp_path / "got", study_uid, catalog=catalog,
            progress=lambda d, t, m: progress.append((d, t)),
        )  # fmt: skip
        assert result.ok and result.completed == len(files) and len(result.files) == len(files)
        assert catalog.counts() == {"patients": 1, "studies": 1, "series": 2, "instances": len(files)}
    assert progress[-1] == (len(files), len(files))
    sent = _by_uid(files)
    assert _by_uid(result.files) == sent


def test_get_cancelled_after_first_instance(clean_orthanc: OrthancServer, tmp_path: Path) -> None:
    study_uid, files = _study(tmp_path, n_series=1, n_slices=12)
    assert send(clean_orthanc.pacs(), files).ok
    token = CancelToken()
    result = get(
        clean_orthanc.pacs(),
        tmp_path / "got",
        study_uid,
        progress=lambda d, t, m: token.cancel(),
        cancel=token,
    )
    assert result.cancelled
    assert 0 < len(result.files) < len(files)


def test_movescu_to_our_scp(clean_orthanc: OrthancServer, tmp_path: Path) -> None:
    study_uid, files = _study(tmp_path, n_series=1)
    assert send(clean_orthanc.pacs(), files).ok
    with StorageServer(
        tmp_path / "recv",
        port=clean_orthanc.scp_port,
        catalog=tmp_path / "c.sqlite",
        allowed_aes=[ORTHANC_AE],
    ) as server:
        done = run_tool(
            "movescu", "-S", "-aet", MOVESCU_AE, "-aec", ORTHANC_AE, "-aem", OUR_AE,
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}",
            "127.0.0.1", str(clean_orthanc.dicom_port),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert server.wait_idle(60)
    assert len(list((tmp_path / "recv").rglob("*.dcm"))) == len(files)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert [s.study_uid for s in catalog.studies()] == [study_uid]


def test_send_deidentified_leaves_no_phi_on_the_pacs(clean_orthanc: OrthancServer, tmp_path: Path) -> None:
    study_uid, files = _study(tmp_path)
    result = send_deidentified(clean_orthanc.pacs(), tmp_path / "src", DeidOptions(), key=b"test-key")
    assert result.send.ok and len(result.send.sent) == len(files)
    assert not result.deid.refused and not result.deid.errors
    assert find_studies(clean_orthanc.pacs(), study_uid=study_uid) == []
    instances = clean_orthanc.rest("GET", "/instances").json()
    assert len(instances) == len(files)
    for instance in instances:
        tags = clean_orthanc.rest("GET", f"/instances/{instance}/simplified-tags").json()
        text = repr(tags)
        for phi in (PATIENT_NAME, PATIENT_ID, "General Hospital", "ACC42", "19700101", study_uid):
            assert phi not in text, f"{phi} reached the PACS"
