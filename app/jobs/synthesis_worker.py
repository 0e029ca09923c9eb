"""Run a synthesis request off the GUI thread (engine.synthesis.runner.synthesize) with progress and Cancel;
the result comes back as a queued Qt signal, so the window never freezes."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.progress import Cancelled, CancelToken
from engine.synthesis.types import SynthesisRequest


class SynthesisWorker(QObject):
    """One generation at a time; ``cancel`` stops it at the next denoising step."""

    progress = Signal(int, int, str)  # done, total, message
    finished = Signal(object)  # SynthesisResult
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, registry: object | None = None, audit_log: Path | None = None) -> None:
        super().__init__()
        self.registry = registry  # None = the default plugin registry
        self.audit_log = audit_log  # None = the per-user audit log
        self._cancel = CancelToken()
        self._thread: threading.Thread | None = None
        self.busy = False  # cleared before the run's last signal, so its slots may start the next run

    def start(self, request: SynthesisRequest) -> None:
        self._cancel = cancel = CancelToken()
        self.busy = True
        self._thread = threading.Thread(target=self._run, args=(request, cancel), daemon=True, name="synthesis")
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.cancel()

    def wait(self, timeout: float = 120.0) -> None:
        """Block until the run ends (tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, request: SynthesisRequest, cancel: CancelToken) -> None:
        from engine.synthesis.runner import synthesize

        try:
            result = synthesize(request, self.progress.emit, cancel, registry=self.registry, audit_log=self.audit_log)
        except Cancelled:
            self.busy = False
            self.cancelled.emit()
        except Exception as error:  # refused plugin (hash mismatch), model failure: the user reads why
            self.busy = False
            self.failed.emit(f"{type(error).__name__}: {error}")
        else:
            self.busy = False
            self.finished.emit(result)
