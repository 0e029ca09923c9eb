"""File ▸ Receive DICOM: starts / stops the storage SCP inside the app. Studies sent to it appear in the study
browser and the worklist once indexed: the server's indexer thread reports each association through a Qt
signal, which Qt queues to the UI thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction

from app.settings.preferences import Store
from app.settings.receive import ReceiveSettings
from engine.catalog import Catalog, CatalogError

if TYPE_CHECKING:
    from app.widgets.window_ports import ShowStatus
    from engine.net.storage_scp import AssociationReport, StorageServer


class ReceiveToggle(QObject):
    """The in-app receiver; ``received`` carries each association's report to the UI thread, where ``refresh``
    re-lists the studies. Its settings come from ``store``; received files are indexed into ``catalog``."""

    received = Signal(object)  # AssociationReport

    def __init__(self, store: Store, catalog: Catalog, show_status: ShowStatus, refresh: Callable[[], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store, self.catalog, self.show_status, self.refresh = store, catalog, show_status, refresh
        self.server: StorageServer | None = None
        self.action: QAction | None = None
        self.reports: list[AssociationReport] = []
        self.received.connect(self._received)

    @property
    def running(self) -> bool:
        return self.server is not None

    def bind_action(self, action: QAction) -> None:
        """Show the receiver's state as the menu item's check mark."""
        self.action = action
        action.setCheckable(True)
        self._sync()

    def toggle(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self, settings: ReceiveSettings | None = None) -> bool:
        """Listen with ``settings`` (default: the saved preferences); False, with the reason shown, on failure."""
        settings = settings or ReceiveSettings.from_store(self.store)
        from engine.net.storage_scp import StorageServer  # pynetdicom: loaded when receiving starts

        server = StorageServer(settings.directory, ae_title=settings.ae_title, host=settings.host,
                               port=settings.port, allowed_aes=settings.allowed_aes, catalog=self.catalog,
                               on_association=self.received.emit)
        try:
            server.start()
        except (OSError, CatalogError, ValueError) as error:
            self.show_status(
                f"Cannot receive on port {settings.port}: {error} (settings: File ▸ Preferences ▸ DICOM receive)",
                15000)
            self._sync()
            return False
        self.server = server
        self.show_status(f"Receiving DICOM as {settings.ae_title} on port {server.port}", 10000)
        self._sync()
        return True

    def stop(self) -> None:
        """Stop listening (what was received so far is indexed first)."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()
            self.show_status("DICOM receiver stopped", 5000)
        self._sync()

    def _received(self, report: AssociationReport) -> None:
        self.reports.append(report)
        self.refresh()
        count = len(report.files)
        problem = f" — indexing failed: {report.index_error}" if report.index_error else ""
        self.show_status(
            f"Received {count} file{'s' if count != 1 else ''} from {report.calling_ae}{problem}", 10000)

    def _sync(self) -> None:
        if self.action is not None:
            self.action.setChecked(self.running)
