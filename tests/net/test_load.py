"""Load: 2,000 small CT instances from 4 concurrent storescu processes; nothing lost, pixels byte-identical."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pydicom
import pytest

from engine.catalog import Catalog
from engine.net.storage_scp import AssociationReport, StorageServer
from tests.net.conftest import dcmtk_tool
from tests.net.factory import write_series

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.timeout(300)]

SENDERS = 4
SERIES_PER_SENDER = 5
SLICES = 100  # 4 x 5 x 100 = 2,000 instances


def test_two_thousand_instances_from_four_concurrent_senders(tmp_path: Path) -> None:
    folders = []
    for sender in range(SENDERS):
        folder = tmp_path / f"sender{sender}"
        study = pydicom.uid.generate_uid()
        for number in range(SERIES_PER_SENDER):
            write_series(folder / f"series{number}", SLICES, study, series_number=number + 1)
        folders.append(folder)
    total = SENDERS * SERIES_PER_SENDER * SLICES
    reports: list[AssociationReport] = []
    storescu = dcmtk_tool("storescu")
    with StorageServer(
        tmp_path / "received", port=0, catalog=tmp_path / "catalog.sqlite", on_association=reports.append
    ) as server:
        senders = [
            subprocess.Popen(
                [storescu, "+sd", "+r", "-aet", f"LOAD{i}", "127.0.0.1", str(server.port), str(folder)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip
            for i, folder in enumerate(folders)
        ]
        try:
            outputs = [sender.communicate(timeout=240)[0] for sender in senders]
        finally:
            for sender in senders:
                if sender.poll() is None:
                    sender.kill()
                    sender.wait(timeout=10)
        assert [s.returncode for s in senders] == [0] * SENDERS, outputs
        assert server.wait_idle(120)

    assert sorted(r.calling_ae for r in reports) == [f"LOAD{i}" for i in range(SENDERS)]
    assert sum(len(r.files) for r in reports) == total and not any(r.failed for r in reports)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert catalog.counts() == {
            "patients": 1, "studies": SENDERS, "series": SENDERS * SERIES_PER_SENDER, "instances": total,
        }  # fmt: skip
    source = {}
    for folder in folders:
        for path in folder.rglob("*.dcm"):
            ds = pydicom.dcmread(path)
            source[str(ds.SOPInstanceUID)] = ds.PixelData
    received = sorted((tmp_path / "received").rglob("*.dcm"))
    assert len(received) == total
    for path in received:
        ds = pydicom.dcmread(path)
        assert ds.PixelData == source[str(ds.SOPInstanceUID)], path
