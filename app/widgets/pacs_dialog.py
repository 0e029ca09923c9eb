"""File > Query / retrieve: search a configured PACS by patient name, ID, date range, modality and accession,
the matches in a table, retrieve the chosen studies (C-GET, C-MOVE or WADO-RS) with progress and Cancel into
the catalog, and "Retrieve priors" of the open patient. The logic is engine.net.query_retrieve; the network
work runs as a background job."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.jobs.background import BackgroundJob, JobContext
from engine.catalog import Catalog
from engine.net.matches import StudyMatch
from engine.net.pacs_config import PacsConfig, load_pacs
from engine.net.query_retrieve import (
    COLUMNS,
    METHODS,
    RetrieveOutcome,
    SearchCriteria,
    default_directory,
    retrieve,
    retrieve_priors,
    search,
    table_row,
)

_METHOD_NAMES = {"get": "C-GET", "move": "C-MOVE", "wado": "WADO-RS"}


class PacsDialog(QDialog):
    """Query / retrieve against the PACS nodes of Preferences (pacs.json)."""

    def __init__(self, catalog: Catalog, *, open_patient: tuple[str, str] | None = None,
                 on_retrieved: Callable[[], None] | None = None, pacs_path: Path | None = None,
                 directory: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Query / retrieve")
        self.setObjectName("pacs_dialog")
        self.catalog, self.on_retrieved = catalog, on_retrieved
        self.open_patient = open_patient  # (patient ID, study UID) of the open study
        self.directory = directory
        self.matches: list[StudyMatch] = []
        self.job = BackgroundJob("pacs")
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(lambda _job: self._done("Cancelled"))
        self.nodes: list[PacsConfig] = []
        self._build()
        self.load_nodes(pacs_path)

    def _build(self) -> None:
        self.node = QComboBox(objectName="pacs_node")
        self.dicomweb = QCheckBox("Search by DICOMweb (QIDO-RS)", objectName="pacs_qido")
        self.fields = {name: QLineEdit(objectName=f"pacs_{name}") for name in
                       ("patient_name", "patient_id", "date_from", "date_to", "modality", "accession")}
        self.fields["date_from"].setPlaceholderText("YYYY-MM-DD")
        self.fields["date_to"].setPlaceholderText("YYYY-MM-DD")
        self.fields["modality"].setPlaceholderText("CT, MR, …")
        form = QFormLayout()
        form.addRow("PACS", self.node)
        form.addRow("Patient name", self.fields["patient_name"])
        form.addRow("Patient ID", self.fields["patient_id"])
        dates = QHBoxLayout()
        dates.addWidget(self.fields["date_from"])
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.fields["date_to"])
        form.addRow("Study date", dates)
        form.addRow("Modality", self.fields["modality"])
        form.addRow("Accession", self.fields["accession"])
        form.addRow("", self.dicomweb)
        for field in self.fields.values():
            field.returnPressed.connect(self.search)
        self.search_button = QPushButton("Search", objectName="pacs_search")
        self.search_button.clicked.connect(self.search)
        self.table = QTableWidget(0, len(COLUMNS), objectName="pacs_results")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.method = QComboBox(objectName="pacs_method")
        for method in METHODS:
            self.method.addItem(_METHOD_NAMES[method], method)
        self.retrieve_button = QPushButton("Retrieve selected", objectName="pacs_retrieve")
        self.retrieve_button.clicked.connect(self.retrieve_selected)
        self.priors_button = QPushButton("Retrieve priors of the open patient", objectName="pacs_priors")
        self.priors_button.clicked.connect(self.retrieve_priors)
        self.priors_button.setEnabled(self.open_patient is not None)
        self.progress = QProgressBar(objectName="pacs_progress")
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel", objectName="pacs_cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.job.cancel)
        self.status = QLabel("", objectName="pacs_status")
        self.status.setWordWrap(True)
        actions = QHBoxLayout()
        actions.addWidget(QLabel("Retrieve by"))
        actions.addWidget(self.method)
        actions.addWidget(self.retrieve_button)
        actions.addWidget(self.priors_button)
        actions.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.search_button, 0, Qt.AlignLeft)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addLayout(bottom)
        layout.addWidget(self.status)
        self.resize(980, 640)

    def load_nodes(self, path: Path | None = None) -> None:
        try:
            self.nodes = load_pacs(path)
        except ValueError as error:
            self.nodes = []
            self.status.setText(str(error))
        self.node.clear()
        for node in self.nodes:
            self.node.addItem(f"{node.name} ({node.called_ae}@{node.host}:{node.port})", node.name)
        if not self.nodes and not self.status.text():
            self.status.setText("No PACS configured: add one in Preferences > PACS nodes.")
        self._enable(not self.job.busy)

    def pacs(self) -> PacsConfig | None:
        index = self.node.currentIndex()
        return self.nodes[index] if 0 <= index < len(self.nodes) else None

    def criteria(self) -> SearchCriteria:
        return SearchCriteria(**{name: field.text() for name, field in self.fields.items()})

    # --- actions -----------------------------------------------------------------------------------
    def search(self) -> None:
        pacs, criteria = self.pacs(), self.criteria()
        problems = criteria.problems()
        if pacs is None or problems:
            self.status.setText("; ".join(problems) or "No PACS configured")
            return
        web = self.dicomweb.isChecked()
        self._begin(f"Searching {pacs.name}…")
        self.job.start(lambda context: ("search", search(pacs, criteria, dicomweb=web, progress=context.progress,
                                                         cancel=context.cancel)))

    def retrieve_selected(self) -> None:
        pacs = self.pacs()
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        if pacs is None or not rows:
            self.status.setText("Select the studies to retrieve")
            return
        uids = [self.matches[row].study_uid for row in rows]
        method, directory = self.method.currentData(), self._directory()
        self._begin(f"Retrieving {len(uids)} stud{'y' if len(uids) == 1 else 'ies'}…")
        self.job.start(lambda context: ("retrieve", retrieve(pacs, uids, self.catalog, directory, method=method,
                                                             progress=context.progress, cancel=context.cancel)))

    def retrieve_priors(self) -> None:
        pacs = self.pacs()
        if pacs is None or self.open_patient is None:
            self.status.setText("Open a study first" if pacs else "No PACS configured")
            return
        patient_id, study_uid = self.open_patient
        method, directory, web = self.method.currentData(), self._directory(), self.dicomweb.isChecked()
        self._begin(f"Retrieving the priors of {patient_id}…")

        def work(context: JobContext) -> tuple[str, object]:
            found, outcome = retrieve_priors(pacs, patient_id, study_uid, self.catalog, directory, method=method,
                                             dicomweb_search=web, progress=context.progress,
                                             cancel=context.cancel)
            return "priors", (found, outcome)

        self.job.start(work)

    # --- job signals -------------------------------------------------------------------------------
    def _begin(self, message: str) -> None:
        self.status.setText(message)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self._enable(False)

    def _progress(self, job: int, done: int, total: int, message: str) -> None:
        if job == self.job.current:
            self.progress.setRange(0, max(total, 0))
            self.progress.setValue(done)
            self.status.setText(message)

    def _finished(self, job: int, value: tuple[str, object]) -> None:
        if job != self.job.current:
            return
        kind, payload = value
        if kind == "search":
            self.show_matches(payload)  # type: ignore[arg-type]
            self._done(f"{len(self.matches)} stud{'y' if len(self.matches) == 1 else 'ies'} found")
            return
        if kind == "priors":
            found, outcome = payload  # type: ignore[misc]
            self.show_matches(found)
            text = "No prior on the PACS that the catalog lacks" if not found else outcome.summary()
        else:
            outcome = payload
            text = outcome.summary()
        if isinstance(outcome, RetrieveOutcome) and outcome.studies and self.on_retrieved is not None:
            self.on_retrieved()
        self._done(("Retrieved: " if outcome.ok else "Retrieve incomplete: ") + text)

    def _failed(self, job: int, message: str) -> None:
        if job == self.job.current:
            self._done(f"Failed: {message}")

    def _done(self, message: str) -> None:
        self.status.setText(message)
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self._enable(True)

    def _enable(self, enabled: bool) -> None:
        has_node = bool(self.nodes)
        self.search_button.setEnabled(enabled and has_node)
        self.retrieve_button.setEnabled(enabled and has_node)
        self.priors_button.setEnabled(enabled and has_node and self.open_patient is not None)

    def show_matches(self, matches: list[StudyMatch]) -> None:
        self.matches = list(matches)
        self.table.setRowCount(len(self.matches))
        for row, match in enumerate(self.matches):
            for column, text in enumerate(table_row(match)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _directory(self) -> Path:
        return self.directory or default_directory()

    def done(self, result: int) -> None:  # noqa: D102 (closing cancels the running job)
        self.job.cancel()
        self.job.wait(10.0)
        super().done(result)
