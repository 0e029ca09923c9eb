"""The storage SCP against dcmtk tools and a pynetdicom SCU on loopback."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from engine.catalog import Catalog
from engine.net import instance_store
from engine.net.storage_scp import AssociationReport, StorageServer
from tests.net.conftest import run_tool
from tests.net.factory import ct_slice, write_series

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]

ServerFactory = Callable[..., StorageServer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start StorageServers on free loopback ports into tmp_path/received; all stopped at teardown."""
    servers: list[StorageServer] = []

    def start(**options: object) -> StorageServer:
        values: dict[str, object] = dict(port=0, catalog=tmp_path / "catalog.sqlite")
        values.update(options)
        server = StorageServer(tmp_path / "received", **values).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _scu(ae_title: str = "PYSCU") -> AE:
    ae = AE(ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = 20
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    return ae


def _received(root: Path) -> list[Path]:
    return sorted(root.rglob("*.dcm")) if root.exists() else []


def _pixels_by_uid(files: list[Path]) -> dict[str, bytes]:
    out = {}
    for path in files:
        ds = pydicom.dcmread(path)
        out[str(ds.SOPInstanceUID)] = ds.PixelData
    return out


def test_echoscu(start_server: ServerFactory) -> None:
    server = start_server()
    done = run_tool("echoscu", "-aec", "SIGHTLINE", "127.0.0.1", str(server.port), timeout=30)
    assert done.returncode == 0, done.stderr


def test_storescu_series_lands_in_folder_and_catalog(start_server: ServerFactory, tmp_path: Path) -> None:
    files = write_series(tmp_path / "src", 6)
    reports: list[AssociationReport] = []
    instances: list[str] = []
    server = start_server(
        on_association=reports.append,
        on_instance=lambda ae, outcome: instances.append(outcome.sop_instance_uid),
    )
    done = run_tool(
        "storescu", "-aet", "MODALITY", "127.0.0.1", str(server.port), *map(str, files), timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert server.wait_idle(30)

    received = _received(tmp_path / "received")
    assert _pixels_by_uid(received) == _pixels_by_uid(files)
    source = pydicom.dcmread(files[0])
    for path in received:  # <study>/<series>/<sop>.dcm from the UIDs
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert path.relative_to(tmp_path / "received").parts == (
            source.StudyInstanceUID,
            source.SeriesInstanceUID,
            f"{ds.SOPInstanceUID}.dcm",
        )
    for folder in (tmp_path / "received", received[0].parent, received[0].parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert not list((tmp_path / "received").rglob("*.part"))

    assert len(instances) == 6
    [report] = reports
    assert report.calling_ae == "MODALITY" and len(report.files) == 6 and report.failed == 0
    assert report.catalog is not None and report.catalog.instances_added == 6
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert catalog.counts() == {"patients": 1, "studies": 1, "series": 1, "instances": 6}
        [series] = catalog.series(source.StudyInstanceUID)
        locations = {Path(i.ref.path) for i in catalog.instances(series.key)}
    assert locations == set(received)


def test_a_series_split_over_two_associations_is_catalogued_whole(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    files = write_series(tmp_path / "src", 6)
    server = start_server()
    for part in (files[:3], files[3:]):
        done = run_tool("storescu", "127.0.0.1", str(server.port), *map(str, part), timeout=60)
        assert done.returncode == 0, done.stderr
        assert server.wait_idle(30)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert catalog.counts()["instances"] == 6


def test_unknown_calling_ae_is_rejected(start_server: ServerFactory, tmp_path: Path) -> None:
    files = write_series(tmp_path / "src", 2)
    server = start_server(allowed_aes=["PACS"])
    done = run_tool("storescu", "-aet", "NOBODY", "127.0.0.1", str(server.port), *map(str, files), timeout=30)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Rejected Permanent" in output and "Service User" in output
    assert "Calling AE Title Not Recognized" in output
    assert server.wait_idle(30)
    assert _received(tmp_path / "received") == []
    allowed = run_tool(
        "storescu", "-aet", "PACS", "127.0.0.1", str(server.port), *map(str, files), timeout=30
    )
    assert allowed.returncode == 0, allowed.stderr


def test_association_limit_rejects_transiently(start_server: ServerFactory) -> None:
    server = start_server(max_associations=1)
    holder = _scu().associate("127.0.0.1", server.port)
    assert holder.is_established
    try:
        done = run_tool("echoscu", "127.0.0.1", str(server.port), timeout=30)
        assert done.returncode != 0
        output = done.stdout + done.stderr
        assert "Rejected Transient" in output and "Local Limit Exceeded" in output
    finally:
        holder.release()
    assert server.wait_idle(30)
    assert run_tool("echoscu", "127.0.0.1", str(server.port), timeout=30).returncode == 0


def _send(port: int, *datasets: Dataset) -> list[int]:
    assoc = _scu().associate("127.0.0.1", port)
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


def test_same_instance_with_different_bytes_keeps_the_first(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    reports: list[AssociationReport] = []
    server = start_server(on_association=reports.append)
    first = ct_slice(generate_uid(), generate_uid(), 0)
    second = ct_slice(first.StudyInstanceUID, first.SeriesInstanceUID, 5)
    second.SOPInstanceUID = first.SOPInstanceUID
    assert _send(server.port, first, first, second) == [0x0000, 0x0000, 0x0000]
    assert server.wait_idle(30)
    [path] = _received(tmp_path / "received")
    assert pydicom.dcmread(path).PixelData == first.PixelData
    [report] = reports
    assert len(report.files) == 1 and report.identical == 1
    assert len(report.warnings) == 1 and "kept the first copy" in report.warnings[0]


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("StudyInstanceUID", "1.2.03.4"), ("SeriesInstanceUID", "../../etc"), ("StudyInstanceUID", "1." * 40)],
)
def test_invalid_uid_is_refused_and_nothing_written(
    start_server: ServerFactory, tmp_path: Path, keyword: str, value: str
) -> None:
    server = start_server()
    ds = ct_slice(generate_uid(), generate_uid(), 0)
    with pytest.warns(UserWarning):  # pydicom warns about the invalid UI value it is asked to send
        setattr(ds, keyword, value)
        statuses = _send(server.port, ds)
    assert statuses == [0xC000]
    assert server.wait_idle(30)
    assert list((tmp_path / "received").iterdir()) == []


def test_write_error_answers_out_of_resources(
    start_server: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server()

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(instance_store.os, "fsync", full_disk)
    assert _send(server.port, ct_slice(generate_uid(), generate_uid(), 0)) == [0xA700]
    assert server.wait_idle(30)
    assert [p for p in (tmp_path / "received").rglob("*") if p.is_file()] == []


def test_stop_aborts_open_associations_and_indexes_what_arrived(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    reports: list[AssociationReport] = []
    server = start_server(on_association=reports.append)
    assoc = _scu().associate("127.0.0.1", server.port)
    assert assoc.is_established
    assert int(assoc.send_c_store(ct_slice(generate_uid(), generate_uid(), 0)).Status) == 0
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(60)
    assert not stopper.is_alive() and not server.running
    assert len(reports) == 1 and len(reports[0].files) == 1
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert catalog.counts()["instances"] == 1
