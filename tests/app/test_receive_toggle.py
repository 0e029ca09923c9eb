"""File ▸ Receive DICOM: the menu toggle starts the storage SCP with the saved settings; an instance sent with
pynetdicom on loopback appears in the study browser and the worklist; toggling again stops it."""

from __future__ import annotations

from pathlib import Path

from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from app.settings.preferences import DictStore
from app.settings.receive import DEFAULT_PORT, ReceiveSettings
from tests.app.conftest import save_artifact
from tests.net.factory import ct_slice

TIMEOUT_S = 10


def _send(port: int, dataset) -> int:
    """C-STORE one dataset to 127.0.0.1:port as SENDER; returns the status."""
    ae = AE(ae_title="SENDER")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT_S
    ae.add_requested_context(CTImageStorage, dataset.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="SIGHTLINE")
    assert assoc.is_established
    try:
        return int(assoc.send_c_store(dataset).Status)
    finally:
        assoc.release()


def test_settings_default_and_read_from_the_store(tmp_path: Path) -> None:
    store = DictStore()
    assert ReceiveSettings.from_store(store) == ReceiveSettings()
    assert ReceiveSettings().port == DEFAULT_PORT and ReceiveSettings().ae_title == "SIGHTLINE"
    store.setValue("receive/port", "104")
    store.setValue("receive/folder", str(tmp_path))
    store.setValue("receive/allowed_aes", "PACS, MODALITY")
    settings = ReceiveSettings.from_store(store)
    assert (settings.port, settings.directory, settings.allowed_aes) == (104, tmp_path, ("PACS", "MODALITY"))
    store.setValue("receive/port", "not a port")
    assert ReceiveSettings.from_store(store).port == DEFAULT_PORT


def test_received_instance_appears_in_the_browser(window, qtbot, tmp_path: Path) -> None:
    store = window.preferences.store
    store.setValue("receive/host", "127.0.0.1")
    store.setValue("receive/port", 0)  # any free port
    store.setValue("receive/folder", str(tmp_path / "received"))
    action = window.actions_by_id["file.receive"]
    assert action.isCheckable() and not action.isChecked()
    action.trigger()
    receiver = window.receiver
    try:
        assert receiver.running and action.isChecked()
        dataset = ct_slice("1.2.826.0.1.3680043.10.99", "1.2.826.0.1.3680043.10.99.1", 0)
        assert _send(receiver.server.port, dataset) == 0x0000
        qtbot.waitUntil(lambda: bool(receiver.reports), timeout=TIMEOUT_S * 1000)
        assert len(receiver.reports[0].files) == 1 and receiver.reports[0].index_error is None
        assert [key.series_uid for key in window.browser.series_keys()] == ["1.2.826.0.1.3680043.10.99.1"]
        assert window.worklist.table.rowCount() == 1
        assert "Received 1 file from SENDER" in window.statusBar().currentMessage()
        save_artifact(window, "receive_toggle.png")
    finally:
        action.trigger()
    assert not receiver.running and not action.isChecked()
