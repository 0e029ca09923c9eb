"""The annotators' worklist dock: the catalog's studies as a queue with status, filters (status, modality,
text), next / previous, mark done and resume where you left off. Statuses live in the catalog and the
position in the engine Worklist's state file, so both survive a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.viewer_model.model import ViewerModel
from engine.catalog import STATUSES, Catalog, SeriesKey
from engine.editing.worklist import DONE, Worklist, WorklistFilter, WorklistItem

if TYPE_CHECKING:
    from app.widgets.window_ports import SeriesOpener, ShowStatus

ALL = "All statuses"
COLUMNS = ("Status", "Patient", "Date", "Description", "Modalities")


class WorklistDock(QWidget):
    """The queue over ``catalog``; opening a study shows its first series (or the saved one) through
    ``series`` and puts the saved crosshair back on ``model`` once it has loaded."""

    def __init__(self, catalog: Catalog, model: ViewerModel, series: SeriesOpener, show_status: ShowStatus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("worklist")
        self.catalog, self.model, self.series, self.show_status = catalog, model, series, show_status
        self.worklist = Worklist(catalog)
        self._pending_crosshair: list[float] | None = None
        self.status = QComboBox(self)
        self.status.addItems([ALL, *STATUSES])
        self.modality = QLineEdit(self)
        self.modality.setPlaceholderText("Modality")
        self.text = QLineEdit(self)
        self.text.setPlaceholderText("Patient, description, accession…")
        current = self.worklist.filter
        self.status.setCurrentText(current.status or ALL)
        self.modality.setText(current.modality or "")
        self.text.setText(current.text)
        self.status.currentTextChanged.connect(self._filter_edited)
        self.modality.textChanged.connect(self._filter_edited)
        self.text.textChanged.connect(self._filter_edited)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("worklist_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_study(self._uids[row]))
        self.counts = QLabel(self)
        buttons = QGridLayout()
        for index, (text, slot) in enumerate((("◀ Previous", self.previous), ("Next ▶", self.next),
                                              ("Resume", self.resume), ("Mark done", self.mark_current_done))):
            button = QPushButton(text, self)
            button.clicked.connect(slot)
            buttons.addWidget(button, 0, index)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        filters = QGridLayout()
        filters.addWidget(self.status, 0, 0)
        filters.addWidget(self.modality, 0, 1)
        filters.addWidget(self.text, 1, 0, 1, 2)
        layout.addLayout(filters)
        layout.addWidget(self.table)
        layout.addWidget(self.counts)
        layout.addLayout(buttons)
        self._uids: list[str] = []
        series.settled.connect(self._settled)
        self.refresh()

    # --- the queue -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-list the queue (after a filter change, a status change or new studies in the catalog)."""
        items = self.worklist.items()
        current = self.worklist.current
        self._uids = [item.study_uid for item in items]
        self.table.setRowCount(len(items))
        for row, item in enumerate(items):
            for column, text in enumerate(_row_text(item)):
                cell = QTableWidgetItem(text)
                if current is not None and item.study_uid == current.study_uid:
                    font = QFont(cell.font())
                    font.setBold(True)
                    cell.setFont(font)
                self.table.setItem(row, column, cell)
        if current is not None and current.study_uid in self._uids:
            self.table.selectRow(self._uids.index(current.study_uid))
        self.table.resizeColumnsToContents()
        counts = self.worklist.counts()
        self.counts.setText(" · ".join(f"{status}: {counts[status]}" for status in STATUSES))

    def open_study(self, study_uid: str, position: dict | None = None) -> None:
        """Make ``study_uid`` current ('to do' becomes 'in progress') and show its saved or first series."""
        self.save_position()
        self.worklist.open(study_uid)
        self._show(study_uid, position or {})
        self.refresh()

    def next(self) -> WorklistItem | None:
        """Open the next study the filter shows (Ctrl+PgDown)."""
        return self._step(self.worklist.next)

    def previous(self) -> WorklistItem | None:
        """Open the previous study the filter shows (Ctrl+PgUp)."""
        return self._step(self.worklist.previous)

    def resume(self) -> bool:
        """Open the study left off last, at the series and crosshair saved in it."""
        resumed = self.worklist.resume()
        if resumed is None:
            return False
        item, position = resumed
        self._show(item.study_uid, position)
        self.refresh()
        return True

    def mark_done(self, study_uid: str) -> None:
        self.worklist.set_status(DONE, study_uid)
        self.refresh()

    def mark_current_done(self) -> None:
        if self.worklist.current is not None:
            self.mark_done(self.worklist.current.study_uid)

    def save_position(self) -> None:
        """Remember the shown series and crosshair in the current study (when it is the one shown)."""
        model, current = self.model, self.worklist.current
        key = self.series.current_series
        if current is None or key is None or model.volume is None:
            return
        if model.volume.ids.study_uid != current.study_uid:
            return
        self.worklist.save_position({"series": [key.series_uid, key.stack_index],
                                     "crosshair": [float(v) for v in model.crosshair]})

    # --- internals -----------------------------------------------------------------------------------
    def _step(self, move) -> WorklistItem | None:  # noqa: ANN001 (Worklist.next / previous)
        self.save_position()
        item = move()
        if item is None:
            self.show_status("End of the worklist", 5000)
            return None
        self._show(item.study_uid, {})
        self.refresh()
        return item

    def _show(self, study_uid: str, position: dict) -> None:
        rows = self.catalog.series(study_uid)
        if not rows:
            return
        keys = [row.key for row in rows]
        saved = SeriesKey(*position["series"]) if "series" in position else None
        self._pending_crosshair = position.get("crosshair") if saved in keys else None
        self.series.open_series(saved if saved in keys else keys[0])

    def _settled(self) -> None:
        crosshair, self._pending_crosshair = self._pending_crosshair, None
        if crosshair is not None and self.model.volume is not None:
            self.model.set_crosshair(np.asarray(crosshair))

    def _filter_edited(self, *_args: object) -> None:
        status = self.status.currentText()
        self.worklist.set_filter(WorklistFilter(None if status == ALL else status,
                                                self.modality.text().strip() or None, self.text.text()))
        self.refresh()


def _row_text(item: WorklistItem) -> tuple[str, ...]:
    study = item.study
    name = study.patient.patient_name.replace("^", " ").strip() or study.patient.patient_id or "(no name)"
    date = f"{study.date[:4]}-{study.date[4:6]}-{study.date[6:8]}" if len(study.date) == 8 else study.date
    return study.status, name, date, study.description or "(no description)", ", ".join(item.modalities)
