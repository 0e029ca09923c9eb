"""First-run welcome: the sample studies (one click opens one), where Sightline keeps the user's data, and
the not-for-clinical-use notice of the phantom-trained models. Shown once, just after the first start (a
flag in the preferences store), and again from Help > Welcome to Sightline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.paths import data_dir
from engine.resources import resource_root

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow

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
        self.notice.setStyleSheet("color: #b00020;")
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


def install_welcome(window: MainWindow) -> None:
    """Add Help > Welcome to Sightline to ``window`` and show the welcome once, soon after the first start."""
    action = window.menuBar().addMenu("&Help").addAction("&Welcome to Sightline…")
    action.setObjectName("help.welcome")
    action.triggered.connect(lambda _checked=False: show_welcome(window))
    QTimer.singleShot(FIRST_RUN_DELAY_MS, window, lambda: _first_run(window))


def _first_run(window: MainWindow) -> None:
    if window.isVisible() and not window.preferences.store.value(SHOWN_KEY):
        show_welcome(window, activate=False)  # in front of the window, without taking its keyboard focus


def show_welcome(window: MainWindow, activate: bool = True) -> WelcomeDialog:
    """Show the (modeless) welcome over ``window`` and remember that it was shown."""
    window.preferences.store.setValue(SHOWN_KEY, True)
    dialog = WelcomeDialog(sample_studies(), data_dir(), window)
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.setAttribute(Qt.WA_ShowWithoutActivating, not activate)
    dialog.study_chosen.connect(window.open_path)
    dialog.show()
    return dialog
