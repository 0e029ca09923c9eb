"""Progress reporting and cooperative cancellation for long engine work (loading, inference, training)."""

from __future__ import annotations

import threading
from collections.abc import Callable

# progress(done, total, message): called from the worker thread; must be cheap.
ProgressCallback = Callable[[int, int, str], None]


class Cancelled(Exception):
    """Raised inside long work when its CancelToken was cancelled."""


class CancelToken:
    """A thread-safe flag that long work polls between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def report(progress: ProgressCallback | None, done: int, total: int, message: str = "") -> None:
    """Call ``progress`` if one was given."""
    if progress is not None:
        progress(done, total, message)
