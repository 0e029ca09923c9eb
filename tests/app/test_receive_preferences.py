"""The DICOM receiver's settings in Preferences: saved with QSettings (they survive a restart), checked
(AE title, address, port, writable folder) with a message naming the problem, and restored to defaults."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from app.settings.preferences import Preferences
from app.settings.receive import DEFAULT_PORT, ReceiveSettings, restore_receive_defaults
from app.settings.store import qsettings


@pytest.fixture
def messages(monkeypatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text: shown.append(text))
    return shown


def _dialog(window, qtbot):
    from app.widgets.preferences_dialog import PreferencesDialog

    dialog = PreferencesDialog(window.preferences, window)
    qtbot.addWidget(dialog)
    return dialog


def test_settings_survive_a_restart_and_restore_defaults(tmp_path: Path) -> None:
    chosen = ReceiveSettings(ae_title="READING_ROOM", host="127.0.0.1", port=4242, folder=tmp_path / "in",
                             allowed_aes=("PACS", "CT1"))
    assert chosen.problems() == []
    chosen.save(qsettings())
    settings = qsettings()
    settings.sync()
    assert "ae_title=READING_ROOM" in Path(settings.fileName()).read_text()  # on disk
    assert ReceiveSettings.from_store(qsettings()) == chosen  # a new QSettings reads them back
    ReceiveSettings().save(qsettings())  # the defaults are not stored, so later defaults apply
    assert qsettings().value("receive/port") is None
    chosen.save(qsettings())
    restore_receive_defaults(qsettings())
    assert ReceiveSettings.from_store(qsettings()) == ReceiveSettings()


@pytest.mark.parametrize(("change", "expected"), [
    ({"ae_title": "A_TITLE_LONGER_THAN_16"}, "1 to 16 characters"),
    ({"ae_title": "BACK\\SLASH"}, "backslash"),
    ({"ae_title": "   "}, "1 to 16 characters"),
    ({"allowed_aes": ("PACS", "ÄRZTE")}, "allowed calling AE title 'ÄRZTE'"),
    ({"port": 0}, "port 0 is not a TCP port"),
    ({"port": 65536}, "port 65536 is not a TCP port"),
    ({"host": "everywhere"}, "not an IP address"),
    ({"folder": Path("relative/in")}, "absolute path"),
])
def test_invalid_settings_are_named(tmp_path: Path, change: dict, expected: str) -> None:
    settings = ReceiveSettings(**{"folder": tmp_path, **change})
    problems = settings.problems()
    assert len(problems) == 1 and expected in problems[0]


def test_a_folder_that_cannot_be_written_is_refused(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert f"cannot be made: {blocker} is a file" in ReceiveSettings(folder=blocker / "received").problems()[0]
    assert "is a file, not a folder" in ReceiveSettings(folder=blocker).problems()[0]

    def denied(**_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", denied)  # tests may run as root, who can write anywhere
    assert "is not writable (Permission denied)" in ReceiveSettings(folder=tmp_path).problems()[0]
    monkeypatch.undo()
    assert ReceiveSettings(folder=tmp_path / "new" / "received").problems() == []  # made when receiving starts
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_dialog_saves_receive_settings_for_the_next_start(window, qtbot, messages, tmp_path: Path) -> None:
    dialog = _dialog(window, qtbot)
    form = dialog.receive
    assert (form.ae_title.text(), form.port.value(), form.folder.text()) == ("SIGHTLINE", DEFAULT_PORT, "")
    form.ae_title.setText(" READING_ROOM ")
    form.port.setValue(4242)
    form.folder.setText(str(tmp_path))
    form.allowed.setText("PACS, CT1")
    dialog.save()
    assert messages == [] and dialog.result() == dialog.DialogCode.Accepted
    restarted = ReceiveSettings.from_store(Preferences(qsettings()).store)  # as the next start reads them
    assert restarted == ReceiveSettings("READING_ROOM", "0.0.0.0", 4242, tmp_path, ("PACS", "CT1"))
    again = _dialog(window, qtbot)
    assert again.receive.settings() == restarted
    again.restore.click()
    assert again.receive.settings() == ReceiveSettings() == ReceiveSettings.from_store(qsettings())


def test_dialog_refuses_invalid_receive_settings_with_a_message(window, qtbot, messages, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    dialog = _dialog(window, qtbot)
    shortcuts = dialog.shortcut_table
    next(editor for _, command, editor in shortcuts.editors if command == "window.invert").clear()
    dialog.receive.ae_title.setText("SEVENTEEN_LETTERS")
    dialog.receive.folder.setText(str(blocker))
    dialog.save()
    assert len(messages) == 1
    assert "AE title 'SEVENTEEN_LETTERS' must have 1 to 16 characters" in messages[0]
    assert f"storage folder {blocker} is a file" in messages[0]
    assert ReceiveSettings.from_store(qsettings()) == ReceiveSettings()  # nothing saved, from any tab
    assert window.preferences.get("shortcuts")["viewer"]["window.invert"] == ["I"]
    assert dialog.result() != dialog.DialogCode.Accepted


def test_a_receiver_that_cannot_start_points_to_its_settings(window, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = ReceiveSettings(host="127.0.0.1", port=port, folder=tmp_path)
        assert not window.receiver.start(settings) and not window.receiver.running
    message = window.statusBar().currentMessage()
    assert f"Cannot receive on port {port}" in message and "Preferences ▸ DICOM receive" in message
