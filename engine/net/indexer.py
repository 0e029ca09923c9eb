"""Index received files into the catalog: whole series folders at a time, in one background thread.

The catalog replaces a stack only when a scan holds all its catalogued instances, so the scan covers every
file of each touched series folder plus the files the catalog already lists for that series (e.g. from an
earlier import of part of it), never just the instances of one association.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.catalog import Catalog, ImportReport
from engine.dicom.scanner import scan_files
from engine.series import FileRef

LOGGER = logging.getLogger(__name__)

IndexCallback = Callable[[ImportReport | None, Exception | None], None]


def index_files(catalog: Catalog, files: Iterable[Path]) -> ImportReport:
    """Scan the series folders holding ``files`` (plus what the catalog lists for those series) and import."""
    folders = sorted({Path(f).parent for f in files})
    refs: dict[str, FileRef] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.dcm")):
            refs.setdefault(os.path.abspath(path), FileRef(os.path.abspath(path)))
        for stack in catalog.series_by_uid(folder.name):
            for instance in catalog.instances(stack.key):
                if instance.ref.member is None and os.path.isfile(instance.ref.path):
                    refs.setdefault(os.path.abspath(instance.ref.path), instance.ref)
    return catalog.import_scan(scan_files(refs.values()))


@dataclass
class _Job:
    files: list[Path]
    done: IndexCallback


class CatalogIndexer:
    """A worker thread that imports submitted files; jobs waiting together are scanned as one batch."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="sightline-indexer", daemon=True)
        self._thread.start()

    def submit(self, files: list[Path], done: IndexCallback) -> None:
        """Index ``files`` soon; ``done(report, error)`` is called from the worker thread afterwards."""
        with self._idle:
            self._pending += 1
        self._queue.put(_Job(list(files), done))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted job is done; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 60.0) -> None:
        """Finish the queued jobs, then stop the worker."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            while True:  # coalesce: senders that push one instance per association cost one scan per batch
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                jobs.append(more)
            self._index(jobs)

    def _index(self, jobs: list[_Job]) -> None:
        report: ImportReport | None = None
        error: Exception | None = None
        try:
            report = index_files(self._catalog, [f for job in jobs for f in job.files])
        except Exception as exc:  # a catalog failure must not stop the receiver; it is reported per job
            LOGGER.exception("indexing received files failed")
            error = exc
        for job in jobs:
            try:
                job.done(report, error)
            except Exception:
                LOGGER.exception("association callback failed")
        with self._idle:
            self._pending -= len(jobs)
            self._idle.notify_all()
