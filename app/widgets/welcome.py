"""First-run welcome: the sample studies (one click opens one), where Sightline keeps the user's data, and
the not-for-clinical-use notice of the phantom-trained models. Shown once, just after the first start (a
flag in the preferences store), and again from Help > Welcome to Sightline.

The installer ships no sample studies: "Create sample studies" writes them into the user's data folder
(``<data folder>/samples``) with the `sightline samples` generator (app.cli.samples.create_samples, a child
process; progress per study and Cancel), adds them to the catalog and lists them here. The logic is Qt-free
(app.cli.samples); this widget only runs it as a BackgroundJob and shows its progress."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.actions.menus import HELP_MENU
from app.cli.samples import catalog_samples, create_samples, sample_folders, user_samples_folder
from app.jobs.background import BackgroundJob, JobContext
from app.settings.preferences import Store
from app.widgets.theme import set_tone
from engine.catalog import Catalog
from engine.paths import data_dir
from engine.resources import resource_root

OpenPath = Callable[[Path], None]
Refresh = Callable[[], object]

SHOWN_KEY = "welcome/shown"
FIRST_RUN_DELAY_MS = 600  # after the AI panel is built, so the first paint never waits for the dialog
NOTICE = ("<b>Not for clinical use.</b> Sightline is research software. Every AI model it ships was trained "
          "on synthetic phantoms, not on patient data: its findings must not guide diagnosis or treatment.")


def sample_studies(folder: Path | None = None) -> list[Path]:
    """The sample study folders in ``folder``; by default the user's (``<data folder>/samples``, written by
    "Create sample studies"), then those of a source tree's resources/samples (`make samples`) not already
    listed. Empty when none were written."""
    if folder is not None:
        return sample_folders(folder)
    studies = sample_folders(user_samples_folder())
    names = {path.name for path in studies}
    studies += [path for path in sample_folders(resource_root() / "resources" / "samples") if path.name not in names]
    return sorted(studies, key=lambda path: path.name)


def study_title(folder: Path) -> str:
    """'brain_mri' with series T1, T2 -> 'Brain MRI (T1, T2)'."""
    words = [word.upper() if len(word) <= 3 else word.capitalize() for word in folder.name.split("_")]
    series = sorted(path.name for path in folder.iterdir() if path.is_dir())
    return " ".join(words) + (f" ({', '.join(series)})" if series else "")


class WelcomeDialog(QDialog):
    """Sample studies as buttons (or "Create sample studies" with progress and Cancel), the data folder and the
    notice; ``study_chosen`` carries the chosen folder, ``samples_created`` the folders written."""

    study_chosen = Signal(object)  # Path
    samples_created = Signal(object)  # list[Path]

    def __init__(self, samples: list[Path], data_folder: Path, parent: QWidget | None = None,
                 catalog: Catalog | None = None, samples_folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self.setWindowTitle("Welcome to Sightline")
        self.catalog = catalog
        self.samples_folder = samples_folder or user_samples_folder()
        layout = QVBoxLayout(self)
        layout.addWidget(_label("<h2>Welcome to Sightline</h2>Open a sample study (synthetic phantoms, no "
                                "patient data) to try the viewer and the AI plugins:"))
        self.studies_layout = QVBoxLayout()
        layout.addLayout(self.studies_layout)
        self.study_buttons: dict[Path, QPushButton] = {}
        self.empty_label = _label("No sample studies yet: create them (about a minute, 75 MB in your data "
                                  "folder).")
        self.studies_layout.addWidget(self.empty_label)
        row = QHBoxLayout()
        self.create_button = QPushButton("Create sample studies", self)
        self.create_button.setObjectName("welcome.create_samples")
        self.create_button.clicked.connect(self.create_samples)
        self.progress = QProgressBar(self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("welcome.cancel_samples")
        for widget in (self.create_button, self.progress, self.cancel_button):
            row.addWidget(widget)
        layout.addLayout(row)
        self.status = _label("")
        layout.addWidget(self.status)
        self.job = BackgroundJob("samples", parent=self)
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._created)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(self._cancelled)
        self.cancel_button.clicked.connect(self.job.cancel)
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
        self.set_studies(samples)
        self._set_running(False)

    def set_studies(self, samples: list[Path]) -> None:
        """Show one button per sample study (replacing the ones shown)."""
        for button in self.study_buttons.values():
            self.studies_layout.removeWidget(button)
            button.deleteLater()
        self.study_buttons = {}
        for folder in samples:
            button = QPushButton(study_title(folder), self)
            button.clicked.connect(lambda _checked=False, chosen=folder: self._choose(chosen))
            self.studies_layout.addWidget(button)
            self.study_buttons[folder] = button
        self.empty_label.setVisible(not samples)
        self.create_button.setVisible(not samples)

    def create_samples(self) -> int:
        """Write the sample studies into the user's data folder and catalogue them, off the GUI thread."""
        out, catalog = self.samples_folder, self.catalog

        def work(context: JobContext) -> list[Path]:
            folders = create_samples(out, context.progress, context.cancel)
            if catalog is not None:
                catalog_samples(folders, catalog, cancel=context.cancel)
            return folders

        self._set_running(True)
        self.status.setText(f"Writing the sample studies into {out}…")
        return self.job.start(work)

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.create_button.setEnabled(not running)
        if running:
            self.progress.setRange(0, 0)

    def _progress(self, job: int, done: int, total: int, message: str) -> None:
        if job == self.job.current:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(min(done, max(total, 1)))
            self.status.setText(message)

    def _created(self, job: int, folders: list[Path]) -> None:
        self._set_running(False)
        self.set_studies(folders)
        self.status.setText(f"Created {len(folders)} sample studies in {self.samples_folder}; they are in the "
                            "study browser too.")
        self.samples_created.emit(folders)

    def _failed(self, job: int, message: str) -> None:
        self._set_running(False)
        self.status.setText(f"The sample studies could not be created: {message}")

    def _cancelled(self, job: int) -> None:
        self._set_running(False)
        self.status.setText("Cancelled: no half-written study was kept. Studies already finished stay.")
        self.set_studies(sample_studies(self.samples_folder))

    def done(self, result: int) -> None:  # noqa: D401  (closing the dialog stops a running generator)
        self.job.cancel()
        super().done(result)

    def _choose(self, folder: Path) -> None:
        self.study_chosen.emit(folder)
        self.accept()


def _label(html: str) -> QLabel:
    label = QLabel(html)
    label.setWordWrap(True)
    return label


def install_welcome(window: QMainWindow, store: Store, open_path: OpenPath, catalog: Catalog | None = None,
                    refresh: Refresh | None = None) -> None:
    """Add Help > Welcome to Sightline to ``window``'s menu bar and show the welcome once, soon after the first
    start (``store`` keeps the flag); a chosen sample study goes to ``open_path``; created sample studies are
    added to ``catalog`` and ``refresh`` re-lists the study browser."""
    action = window.menuBar().addMenu(HELP_MENU).addAction("&Welcome to Sightline…")
    action.setObjectName("help.welcome")
    action.triggered.connect(lambda _checked=False: show_welcome(window, store, open_path, catalog=catalog,
                                                                 refresh=refresh))
    QTimer.singleShot(FIRST_RUN_DELAY_MS, window, lambda: _first_run(window, store, open_path, catalog, refresh))


def _first_run(window: QWidget, store: Store, open_path: OpenPath, catalog: Catalog | None,
               refresh: Refresh | None) -> None:
    if window.isVisible() and not store.value(SHOWN_KEY):
        # in front, without taking the keyboard focus
        show_welcome(window, store, open_path, activate=False, catalog=catalog, refresh=refresh)


def show_welcome(parent: QWidget, store: Store, open_path: OpenPath, activate: bool = True,
                 catalog: Catalog | None = None, refresh: Refresh | None = None) -> WelcomeDialog:
    """Show the (modeless) welcome over ``parent``, remember in ``store`` that it was shown, and send a chosen
    sample study to ``open_path``."""
    store.setValue(SHOWN_KEY, True)
    dialog = WelcomeDialog(sample_studies(), data_dir(), parent, catalog=catalog)
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.setAttribute(Qt.WA_ShowWithoutActivating, not activate)
    dialog.study_chosen.connect(open_path)
    if refresh is not None:
        dialog.samples_created.connect(lambda _folders: refresh())
    dialog.show()
    return dialog
