"""First-run welcome: the sample studies (one click opens one), where Sightline keeps the user's data, and
the not-for-clinical-use notice of the phantom-trained models. Shown once, just after the first start (a
flag in the preferences store), and again from Help > Welcome to Sightline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QMainWindow, QPushButton, QVBoxLayout, QWidget

from app.actions.menus import HELP_MENU
from app.settings.preferences import Store
from app.widgets.theme import set_tone
from engine.paths import data_dir
from engine.resources import resource_root

OpenPath = Callable[[Path], None]

SHOWN_KEY = "welcome/shown"
FIRST_RUN_DELAY_MS = 600  # after the AI panel is built, so the first paint never waits for the dialog
NOTICE = ("<b>Not for clinical use.</b> Sightline is research software. Every AI model it ships was trained "
          "on synthetic phantoms, not on patient data: its findings must not guide diagnosis or treatment.")


def sample_studies(folder: Path | None = None) -> list[Path]:
    """The sample study folders shipped in resources/samples (empty when none were written)."""
    root = folder or resource_root() / "resources" / "samples"
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith("."))


def study_title(folder: Path) -> str:
    """'brain_mri' with series T1, T2 -> 'Brain MRI (T1, T2)'."""
    words = [word.upper() if len(word) <= 3 else word.capitalize() for word in folder.name.split("_")]
    series = sorted(path.name for path in folder.iterdir() if path.is_dir())
    return " ".join(words) + (f" ({', '.join(series)})" if series else "")


class WelcomeDialog(QDialog):
    """Sample studies as buttons, the data folder and the notice; ``study_chosen`` carries the folder."""

    study_chosen = Signal(object)  # Path

    def __init__(self, samples: list[Path], data_folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self.setWindowTitle("Welcome to Sightline")
        layout = QVBoxLayout(self)
        layout.addWidget(_label("<h2>Welcome to Sightline</h2>Open a sample study (synthetic phantoms, no "
                                "patient data) to try the viewer and the AI plugins:"))
        self.study_buttons: dict[Path, QPushButton] = {}
        for folder in samples:
            button = QPushButton(study_title(folder), self)
            button.clicked.connect(lambda _checked=False, chosen=folder: self._choose(chosen))
            layout.addWidget(button)
            self.study_buttons[folder] = button
        if not samples:
            layout.addWidget(_label("No sample studies are installed."))
        self.data_label = _label(f"Your catalog, settings and audit log are kept in <tt>{data_folder}</tt> "
                                 "(set SIGHTLINE_HOME to move them), never in the install folder.")
        self.data_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.data_label)
        self.notice = _label(NOTICE)
        set_tone(self.notice, "error")
        layout.addWidget(self.notice)
        buttons = QDialogButtonBox(QDialogButtonBox.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _choose(self, folder: Path) -> None:
        self.study_chosen.emit(folder)
        self.accept()


def _label(html: str) -> QLabel:
    label = QLabel(html)
    label.setWordWrap(True)
    return label


def install_welcome(window: QMainWindow, store: Store, open_path: OpenPath) -> None:
    """Add Help > Welcome to Sightline to ``window``'s menu bar and show the welcome once, soon after the first
    start (``store`` keeps the flag); a chosen sample study goes to ``open_path``."""
    action = window.menuBar().addMenu(HELP_MENU).addAction("&Welcome to Sightline…")
    action.setObjectName("help.welcome")
    action.triggered.connect(lambda _checked=False: show_welcome(window, store, open_path))
    QTimer.singleShot(FIRST_RUN_DELAY_MS, window, lambda: _first_run(window, store, open_path))


def _first_run(window: QWidget, store: Store, open_path: OpenPath) -> None:
    if window.isVisible() and not store.value(SHOWN_KEY):
        show_welcome(window, store, open_path, activate=False)  # in front, without taking the keyboard focus


def show_welcome(parent: QWidget, store: Store, open_path: OpenPath, activate: bool = True) -> WelcomeDialog:
    """Show the (modeless) welcome over ``parent``, remember in ``store`` that it was shown, and send a chosen
    sample study to ``open_path``."""
    store.setValue(SHOWN_KEY, True)
    dialog = WelcomeDialog(sample_studies(), data_dir(), parent)
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.setAttribute(Qt.WA_ShowWithoutActivating, not activate)
    dialog.study_chosen.connect(open_path)
    dialog.show()
    return dialog
