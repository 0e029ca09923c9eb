"""The crash-recovery dialog at start: the unfinished editing sessions with when they were last saved and how
many actions they hold; Restore (the selected one), Discard (the selected ones) or Later."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.viewer_model.recovery_offer import DISCARD, LATER, RESTORE, RecoveryDecision, session_row
from engine.editing.recovery import RecoverableSession


class RecoveryDialog(QDialog):
    """Lists ``sessions``; ``decision`` holds the choice once the dialog closes."""

    def __init__(self, sessions: list[RecoverableSession], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recover unsaved label edits")
        self.sessions = sessions
        self.decision = RecoveryDecision(LATER)
        self.table = QTableWidget(len(sessions), 3, self)
        self.table.setObjectName("recovery_sessions")
        self.table.setHorizontalHeaderLabels(["Label map", "Last saved", "Actions"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        for row, session in enumerate(sessions):
            for column, text in enumerate(session_row(session)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.selectRow(0)
        buttons = QDialogButtonBox(self)
        self.restore_button = QPushButton("Restore", self)
        discard = QPushButton("Discard", self)
        later = QPushButton("Later", self)
        buttons.addButton(self.restore_button, QDialogButtonBox.AcceptRole)
        buttons.addButton(discard, QDialogButtonBox.DestructiveRole)
        buttons.addButton(later, QDialogButtonBox.RejectRole)
        self.restore_button.clicked.connect(lambda: self._decide(RESTORE))
        discard.clicked.connect(lambda: self._decide(DISCARD))
        later.clicked.connect(self.reject)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Sightline closed while these label maps were being edited."))
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(640, 240)

    def selected(self) -> tuple[RecoverableSession, ...]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        return tuple(self.sessions[row] for row in rows)

    def _selection_changed(self) -> None:
        self.restore_button.setEnabled(len(self.selected()) == 1)

    def _decide(self, action: str) -> None:
        if self.selected():
            self.decision = RecoveryDecision(action, self.selected())
            self.accept()


def ask_recovery(sessions: list[RecoverableSession], parent: QWidget | None = None) -> RecoveryDecision:
    """Show the dialog (modal) and return what the user chose; closing it means Later."""
    dialog = RecoveryDialog(sessions, parent)
    dialog.exec()
    return dialog.decision
