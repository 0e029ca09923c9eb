"""Preferences > PACS nodes: the peers of pacs.json in a table (name, host, port, AE titles, receive port,
DICOMweb URL), Add / Remove, and Echo (C-ECHO of the selected row as typed, off the GUI thread). Credentials
of an existing node are kept as they are (they are edited with `sightline pacs add`, never shown here)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.jobs.background import BackgroundJob
from engine.net.pacs_config import PacsConfig, load_pacs, save_pacs

HEADERS = ("Name", "Host", "Port", "Called AE", "Our AE", "Receive port", "DICOMweb URL")
_FIELDS = ("name", "host", "port", "called_ae", "our_ae", "receive_port", "dicomweb_url")


def node_from_values(values: list[str], previous: PacsConfig | None = None) -> PacsConfig:
    """A PacsConfig from one table row (ValueError naming the field); ``previous`` keeps auth and timeout."""
    data = dict(zip(_FIELDS, (v.strip() for v in values), strict=True))
    for key in ("port", "receive_port"):
        try:
            data[key] = int(data[key])  # type: ignore[assignment]
        except ValueError:
            raise ValueError(f"{key.replace('_', ' ')} {data[key]!r} is not a number") from None
    return PacsConfig(**data, timeout=previous.timeout if previous else 30.0,  # type: ignore[arg-type]
                      auth=previous.auth if previous else None)


class PacsNodesForm(QWidget):
    """The editable list of PACS nodes; :meth:`save` writes pacs.json."""

    def __init__(self, path: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pacs_nodes")
        self.path = path
        self.table = QTableWidget(0, len(HEADERS), objectName="pacs_nodes_table")
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.add_button = QPushButton("Add", objectName="pacs_add")
        self.remove_button = QPushButton("Remove", objectName="pacs_remove")
        self.echo_button = QPushButton("Echo", objectName="pacs_echo")
        self.status = QLabel("", objectName="pacs_echo_status")
        self.status.setWordWrap(True)
        self.add_button.clicked.connect(self.add_row)
        self.remove_button.clicked.connect(self.remove_row)
        self.echo_button.clicked.connect(self.echo)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.echo_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.job = BackgroundJob("echo")
        self.job.finished.connect(lambda _job, text: self.status.setText(text))
        self.job.failed.connect(lambda _job, message: self.status.setText(f"Echo failed: {message}"))
        self.previous: dict[str, PacsConfig] = {}
        self.load()

    def load(self) -> None:
        try:
            nodes = load_pacs(self.path)
        except ValueError as error:
            nodes = []
            self.status.setText(str(error))
        self.previous = {node.name: node for node in nodes}
        self.table.setRowCount(0)
        for node in nodes:
            self.add_row([str(getattr(node, field)) for field in _FIELDS])

    def add_row(self, values: list[str] | None = None) -> None:
        values = values or ["", "127.0.0.1", "104", "PACS", "SIGHTLINE", "11112", ""]
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, value in enumerate(values):
            self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.setCurrentCell(row, 0)

    def remove_row(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)

    def row_values(self, row: int) -> list[str]:
        return [(self.table.item(row, c).text() if self.table.item(row, c) else "") for c in range(len(HEADERS))]

    def nodes(self) -> list[PacsConfig]:
        """The rows as PacsConfigs (ValueError naming the row and the reason)."""
        nodes = []
        for row in range(self.table.rowCount()):
            values = self.row_values(row)
            try:
                nodes.append(node_from_values(values, self.previous.get(values[0].strip())))
            except ValueError as error:
                raise ValueError(f"row {row + 1}: {error}") from None
        names = [node.name for node in nodes]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"PACS names must be unique: {', '.join(duplicates)}")
        return nodes

    def problems(self) -> list[str]:
        try:
            self.nodes()
        except ValueError as error:
            return [str(error)]
        return []

    def save(self) -> Path | None:
        """Write pacs.json when the rows differ from it (None when nothing changed)."""
        nodes = self.nodes()
        if [n.to_json() for n in nodes] == [n.to_json() for n in self.previous.values()]:
            return None
        path = save_pacs(nodes, self.path)
        self.previous = {node.name: node for node in nodes}
        return path

    def echo(self) -> None:
        """C-ECHO the selected node as typed (saved or not)."""
        row = self.table.currentRow()
        if row < 0:
            self.status.setText("Select a PACS to echo")
            return
        try:
            node = node_from_values(self.row_values(row))
        except ValueError as error:
            self.status.setText(f"Row {row + 1}: {error}")
            return
        self.status.setText(f"Echoing {node.called_ae}@{node.host}:{node.port}…")

        def work(_context) -> str:  # noqa: ANN001
            from engine.net.echo import echo

            seconds = echo(node)
            return f"Echo {node.name}: OK ({seconds * 1000:.0f} ms)"

        self.job.start(work)
