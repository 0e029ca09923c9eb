"""Fixtures for the loopback networking tests: free ports, dcmtk tools, a private Orthanc, CT series."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from engine.net.pacs_config import Auth, PacsConfig

ORTHANC_USER, ORTHANC_PASSWORD = "reader", "s3cret-pw"
ORTHANC_AE = "ORTHANC"
OUR_AE = "SIGHTLINE"
MOVESCU_AE = "MOVESCU"
STARTUP_TIMEOUT = 60.0
PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc")


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dcmtk_tool(name: str) -> str:
    """The dcmtk binary ``name`` (an ELF executable: the venv's pynetdicom scripts share the names)."""
    for folder in ("/usr/bin", "/usr/local/bin"):
        path = Path(folder) / name
        if path.is_file() and path.read_bytes()[:4] == b"\x7fELF":
            return str(path)
    pytest.fail(f"dcmtk {name} is missing (Debian package dcmtk): `make test` installs it")


def run_tool(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run a dcmtk tool with a timeout, capturing its output."""
    return subprocess.run([dcmtk_tool(args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout)


@dataclass
class OrthancServer:
    """A running private Orthanc and how to reach it."""

    dicom_port: int
    http_port: int
    scp_port: int  # where Orthanc sends C-MOVEs for AE SIGHTLINE
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def pacs(self, **changes: object) -> PacsConfig:
        values = dict(
            name="orthanc", host="127.0.0.1", port=self.dicom_port, called_ae=ORTHANC_AE, our_ae=OUR_AE,
            receive_port=self.scp_port, timeout=20.0, dicomweb_url=f"{self.url}/dicom-web",
            auth=Auth("basic", username=ORTHANC_USER, password=ORTHANC_PASSWORD),
        )  # fmt: skip
        values.update(changes)
        return PacsConfig(**values)  # type: ignore[arg-type]

    def rest(self, method: str, path: str, **kwargs: object) -> requests.Response:
        response = requests.request(
            method, self.url + path, auth=(ORTHANC_USER, ORTHANC_PASSWORD), timeout=30, **kwargs
        )
        response.raise_for_status()
        return response

    def clear(self) -> None:
        """Delete every patient, so that each test starts from an empty Orthanc."""
        for patient in self.rest("GET", "/patients").json():
            self.rest("DELETE", f"/patients/{patient}")


def _dicomweb_plugin() -> str | None:
    for folder in PLUGIN_DIRS:
        found = sorted(Path(folder).glob("libOrthancDicomWeb.so*")) if Path(folder).is_dir() else []
        if found:
            return str(found[0])
    return None


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """Orthanc from Debian with its own config, storage and ports; DICOMweb plugin; basic auth."""
    binary = shutil.which("Orthanc") or next(
        (p for p in ("/usr/sbin/Orthanc", "/usr/bin/Orthanc") if Path(p).is_file()), None
    )
    if binary is None:
        pytest.fail("the Orthanc binary is missing (Debian orthanc + orthanc-dicomweb): `make test` installs it")
    plugin = _dicomweb_plugin()
    if plugin is None:
        pytest.fail("the Orthanc DICOMweb plugin is missing (Debian package orthanc-dicomweb): `make test` installs it")
    home = tmp_path_factory.mktemp("orthanc")
    server = OrthancServer(free_port(), free_port(), free_port(), None)  # type: ignore[arg-type]
    config = {
        "Name": "sightline-test",
        "StorageDirectory": str(home / "storage"),
        "IndexDirectory": str(home / "index"),
        "DicomAet": ORTHANC_AE,
        "DicomPort": server.dicom_port,
        "HttpPort": server.http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {ORTHANC_USER: ORTHANC_PASSWORD},
        "DicomModalities": {
            "sightline": [OUR_AE, "127.0.0.1", server.scp_port],
            "movescu": [MOVESCU_AE, "127.0.0.1", free_port()],
        },
        "Plugins": [plugin],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "SaveJobs": False,
        "HttpCompressionEnabled": False,
        "ConcurrentJobs": 1,
    }
    (home / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = (home / "orthanc.log").open("w")
    process = subprocess.Popen([binary, str(home / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    server.process = process
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"Orthanc exited with {process.returncode}: {(home / 'orthanc.log').read_text()}")
            try:
                server.rest("GET", "/system")
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    pytest.fail(f"Orthanc not ready after {STARTUP_TIMEOUT:g} s")
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture
def clean_orthanc(orthanc: OrthancServer) -> OrthancServer:
    """The session's Orthanc, emptied."""
    orthanc.clear()
    return orthanc
