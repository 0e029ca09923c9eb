"""`sightline receive` (a real process, stopped with SIGTERM) and `sightline pacs ...` against Orthanc."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from app.cli import main
from engine.catalog import Catalog
from tests.net.conftest import ORTHANC_PASSWORD, OrthancServer, free_port, run_tool
from tests.net.factory import PATIENT_ID, PATIENT_NAME, write_series

pytestmark = [pytest.mark.network, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]


def test_receive_command_runs_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    files = write_series(tmp_path / "src", 4)
    command = [
        sys.executable, "-m", "app.cli", "receive", "--port", str(port), "--ae", "WORKSTATION",
        "--host", "127.0.0.1", "--dir", str(tmp_path / "in"), "--catalog", str(tmp_path / "c.sqlite"),
        "--allow", "MODALITY",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "Listening as WORKSTATION" in banner, process.stderr.read() if process.poll() else banner
        done = run_tool(
            "storescu", "-aet", "MODALITY", "-aec", "WORKSTATION", "127.0.0.1", str(port), *map(str, files)
        )
        assert done.returncode == 0, done.stderr
        line = process.stdout.readline()  # printed once the association is indexed
        assert "MODALITY" in line and "4 new" in line and "4 instance(s) added" in line
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    assert "Stopped." in out
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert catalog.counts()["instances"] == 4


def test_receive_command_reports_a_busy_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["receive", "--port", str(port), "--host", "127.0.0.1", "--dir", str(tmp_path / "in")])
    assert code == 2 and "cannot start" in capsys.readouterr().err


def _add_orthanc(orthanc: OrthancServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGHTLINE_TEST_ORTHANC_PW", ORTHANC_PASSWORD)
    code = main(
        [
            "pacs",
            "add",
            "orthanc",
            "--host",
            "127.0.0.1",
            "--port",
            str(orthanc.dicom_port),
            "--called-ae",
            "ORTHANC",
            "--receive-port",
            str(orthanc.scp_port),
            "--timeout",
            "20",
            "--dicomweb",
            f"{orthanc.url}/dicom-web",
            "--username",
            "reader",
            "--password-env",
            "SIGHTLINE_TEST_ORTHANC_PW",
        ]  # fmt: skip
    )
    assert code == 0


def test_pacs_commands_end_to_end(
    clean_orthanc: OrthancServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _add_orthanc(clean_orthanc, monkeypatch)
    assert main(["pacs", "list"]) == 0
    assert "orthanc: ORTHANC@127.0.0.1" in capsys.readouterr().out
    assert main(["pacs", "echo", "orthanc"]) == 0
    assert "success" in capsys.readouterr().out

    study_uid = pydicom.uid.generate_uid()
    write_series(tmp_path / "study" / "a", 3, study_uid, series_number=1)
    write_series(tmp_path / "study" / "b", 2, study_uid, series_number=2)
    assert main(["pacs", "send", "orthanc", str(tmp_path / "study")]) == 0
    assert "5 sent" in capsys.readouterr().out

    for web in ([], ["--web"]):
        assert main(["pacs", "find", "orthanc", "--patient-id", PATIENT_ID, "--json", *web]) == 0
        [study] = json.loads(capsys.readouterr().out)
        assert study["study_uid"] == study_uid and study["patient_name"] == PATIENT_NAME
        assert main(["pacs", "find", "orthanc", "--study", study_uid, "--json", *web]) == 0
        assert [s["n_instances"] for s in json.loads(capsys.readouterr().out)] == [3, 2]

    for method in ("move", "get", "wado"):
        folder = tmp_path / method
        catalog = tmp_path / f"{method}.sqlite"
        code = main(
            [
                "pacs",
                "retrieve",
                "orthanc",
                "--study",
                study_uid,
                "--method",
                method,
                "--dir",
                str(folder),
                "--host",
                "127.0.0.1",
                "--catalog",
                str(catalog),
            ]  # fmt: skip
        )
        assert code == 0, capsys.readouterr().err
        assert len(list(folder.rglob("*.dcm"))) == 5
        with Catalog(catalog) as opened:
            assert opened.counts()["instances"] == 5


def test_pacs_send_deidentified(
    clean_orthanc: OrthancServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _add_orthanc(clean_orthanc, monkeypatch)
    write_series(tmp_path / "study", 3)
    assert main(["pacs", "send", "orthanc", str(tmp_path / "study"), "--deidentify", "--key", "k"]) == 0
    assert "3 sent" in capsys.readouterr().out
    [patient] = clean_orthanc.rest("GET", "/patients?expand").json()
    assert PATIENT_NAME not in json.dumps(patient) and PATIENT_ID not in json.dumps(patient)


def test_pacs_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pacs", "echo", "nowhere"]) == 2
    assert "no PACS named 'nowhere'" in capsys.readouterr().err
