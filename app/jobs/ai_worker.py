"""Run an AI plugin off the GUI thread through engine.analysis.service (the path `sightline analyze` takes), with
progress and Cancel; results come back as queued Qt signals, so the window never freezes."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.viewer_model.ai_inputs import Candidate, chosen_series
from engine.ai.registry import PluginRegistry
from engine.ai.suitability import InputRefused
from engine.catalog import Catalog
from engine.progress import Cancelled, CancelToken
from engine.volume import Volume


class AiWorker(QObject):
    """One run at a time; ``cancel`` stops it at the plugin's next progress report."""

    progress = Signal(int, int, str)  # done, total, message
    finished = Signal(object)  # engine.analysis.service.Analysis
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.catalog = catalog
        self._cancel = CancelToken()
        self._thread: threading.Thread | None = None
        self.busy = False  # cleared before the run's last signal, so its slots may start the next run

    def start(self, registry: PluginRegistry, plugin_id: str, chosen: dict[str, Candidate], shown: Volume | None,
              audit_log: Path | None = None) -> None:
        self._cancel = cancel = CancelToken()
        self.busy = True
        self._thread = threading.Thread(target=self._run, args=(registry, plugin_id, chosen, shown, audit_log,
                                                                 cancel), daemon=True, name=f"ai-{plugin_id}")
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.cancel()

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the run ends (tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, registry: PluginRegistry, plugin_id: str, chosen: dict[str, Candidate], shown: Volume | None,
             audit_log: Path | None, cancel: CancelToken) -> None:
        from engine.analysis.service import analyze_series

        try:
            self.progress.emit(0, 0, "loading the input series")
            series, loaded = chosen_series(self.catalog, chosen, shown)
            analysis = analyze_series(plugin_id, series, loaded, self.progress.emit, cancel, registry=registry,
                                      audit_log=audit_log)
        except Cancelled:
            self.busy = False
            self.cancelled.emit()
        except InputRefused as refused:  # its message names the plugin, the series and every reason
            self.busy = False
            self.failed.emit(str(refused))
        except Exception as error:  # refused plugin, bad inputs, plugin failure: the user reads why
            self.busy = False
            self.failed.emit(f"{type(error).__name__}: {error}")
        else:
            self.busy = False
            self.finished.emit(analysis)
