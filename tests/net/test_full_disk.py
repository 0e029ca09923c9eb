"""A full disk: a 1 MiB tmpfs as the receive folder; the sender gets 0xA700 and nothing partial is left."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from engine.catalog import Catalog
from engine.net.storage_scp import AssociationReport, StorageServer
from tests.net.conftest import run_tool
from tests.net.factory import write_series

pytestmark = [pytest.mark.network, pytest.mark.timeout(180)]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for this test (needs root and mount permission, else the test is skipped)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount_point)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"cannot mount a tmpfs here: {error}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root and mount permission needed): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


def test_full_disk_answers_out_of_resources_and_leaves_no_partial_file(
    tiny_disk: Path, tmp_path: Path
) -> None:
    files = write_series(tmp_path / "src", 120, size=64)  # ~8.5 KB each: about a third fits
    reports: list[AssociationReport] = []
    with StorageServer(
        tiny_disk / "received", port=0, catalog=tmp_path / "catalog.sqlite", on_association=reports.append
    ) as server:
        done = run_tool("storescu", "-v", "127.0.0.1", str(server.port), *map(str, files), timeout=120)
        assert server.wait_idle(60)
        output = (done.stdout + done.stderr).lower()
        assert "refused: outofresources" in output, output[-2000:]  # dcmtk's name for 0xA700; it stops there
        alive = run_tool("echoscu", "127.0.0.1", str(server.port), timeout=30)
        assert alive.returncode == 0, "the server must survive a full disk"
    [report] = reports
    stored = sorted((tiny_disk / "received").rglob("*.dcm"))
    assert 0 < len(stored) < len(files)
    assert report.failed == 1 and len(report.files) == len(stored)
    assert "No space left on device" in report.errors[0]
    assert [p for p in (tiny_disk / "received").rglob("*") if p.name.startswith(".")] == []  # no temp files
    source = {str(ds.SOPInstanceUID): ds.PixelData for ds in map(pydicom.dcmread, files)}
    for path in stored:  # every stored file is complete
        ds = pydicom.dcmread(path)
        assert ds.PixelData == source[str(ds.SOPInstanceUID)]
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert catalog.counts()["instances"] == len(stored)
