"""One pattern for work off the GUI thread: a numbered job in a daemon thread, with progress, Cancel and its
outcome as Qt signals.

``BackgroundJob.start(work)`` runs ``work(context)`` in a Python thread. The signals are emitted from that
thread; bound slots of QObjects that live in the GUI thread receive them queued, so the window never waits.
Every signal carries the job's number, so a slot drops what a replaced (stale) job still reports. A job ends
in exactly one of ``finished`` (the value ``work`` returned), ``failed`` (a message for the user) or
``cancelled``, then ``ended``; ``busy`` is cleared before that outcome is emitted, so its slot may start the
next job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

from PySide6.QtCore import QObject, Signal, SignalInstance

from engine.ai.suitability import InputRefused
from engine.progress import Cancelled, CancelToken, ProgressCallback


@dataclass(frozen=True)
class JobContext:
    """What the work of one job gets: its number, a progress callback and its cancel token."""

    job: int
    progress: ProgressCallback  # progress(done, total, message), emitted as the job's ``progress`` signal
    cancel: CancelToken  # polled by the work; raising Cancelled ends the job as ``cancelled``


Work = Callable[[JobContext], object]


def error_message(error: BaseException) -> str:
    """The sentence the user reads when a job fails: a refused input gives its own (it names the plugin, the
    series and every reason), any other error ``Type: message``."""
    if isinstance(error, InputRefused):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _import_shared_modules() -> None:
    """Import pydicom in the calling (GUI) thread before a job thread may import it. pydicom's package and
    its ``dataset`` module import each other: when a job thread and the GUI thread (e.g. the AI panel) import
    it at the same moment, one of them sees a partially initialised module and fails with ImportError."""
    import pydicom  # noqa: F401


class BackgroundJob(QObject):
    """Runs numbered jobs in daemon threads. With ``replace`` (the default) starting a job cancels the running
    one; without it jobs run side by side."""

    progress = Signal(int, int, int, str)  # job, done, total, message
    finished = Signal(int, object)  # job, the value the work returned
    failed = Signal(int, str)  # job, message (error_message)
    cancelled = Signal(int)  # job
    ended = Signal(int)  # job, after its finished / failed / cancelled

    def __init__(self, name: str = "job", replace: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name  # names the threads: "<name>-<job>"
        self.replace = replace
        self.current = 0  # the number of the job started last (0: none yet)
        self._numbers = count(1)
        self._running: dict[int, CancelToken] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def busy(self) -> bool:
        """Whether a job has not yet reached its outcome."""
        return bool(self._running)

    def start(self, work: Work) -> int:
        """Run ``work(context)`` in a new daemon thread and return the job's number."""
        if self.replace:
            self.cancel()
        _import_shared_modules()
        self.current = job = next(self._numbers)
        context = JobContext(job, lambda done, total, message: self.progress.emit(job, done, total, message),
                             CancelToken())
        with self._lock:
            self._running[job] = context.cancel
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        thread = threading.Thread(target=self._run, args=(work, context), daemon=True, name=f"{self.name}-{job}")
        self._threads.append(thread)
        thread.start()
        return job

    def cancel(self) -> bool:
        """Cancel every running job (each stops at its work's next check); True if one was running."""
        with self._lock:
            tokens = list(self._running.values())
        for token in tokens:
            token.cancel()
        return bool(tokens)

    def wait(self, timeout: float = 120.0) -> None:
        """Block until the started jobs' threads end, at most ``timeout`` seconds (tests, closing the window)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, work: Work, context: JobContext) -> None:
        outcome: tuple[SignalInstance, tuple[object, ...]]
        try:
            outcome = (self.finished, (context.job, work(context)))
        except Cancelled:
            outcome = (self.cancelled, (context.job,))
        except Exception as error:  # every failure reaches the user as a message naming what failed
            outcome = (self.failed, (context.job, error_message(error)))
        with self._lock:
            del self._running[context.job]
        signal, args = outcome
        signal.emit(*args)
        self.ended.emit(context.job)
