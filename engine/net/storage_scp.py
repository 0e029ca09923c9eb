"""The storage SCP: receives C-STORE (every storage SOP class, every transfer syntax) and answers C-ECHO.

Files land under ``directory/<study>/<series>/<instance>.dcm`` (see :mod:`engine.net.instance_store`) and
are indexed in the catalog once per association, when it ends (release, abort or dropped connection).
Calling AE titles outside ``allowed_aes`` are rejected (rejected-permanent, service-user,
calling-AE-title-not-recognized); more than ``max_associations`` at once are rejected transiently
(rejected-transient, service-provider, local-limit-exceeded).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.association import Association
from pynetdicom.events import Event, EventHandlerType
from pynetdicom.transport import ThreadedAssociationServer

from engine.catalog import Catalog, ImportReport
from engine.net import DEFAULT_AE_TITLE
from engine.net.association import abstract_syntaxes
from engine.net.indexer import CatalogIndexer
from engine.net.instance_store import InstanceStore, WriteOutcome
from engine.net.sop_classes import Verification
from engine.net.store_handler import StoreOutcome, store_instance

LOGGER = logging.getLogger(__name__)



@dataclass
class AssociationReport:
    """What one association delivered, reported after its files were indexed.

    ``catalog`` is the import that included these files (shared by associations that ended together);
    ``index_error`` says why indexing failed, if it did.
    """

    calling_ae: str
    address: str
    files: list[Path] = field(default_factory=list)  # new files, in arrival order
    identical: int = 0  # re-sent instances already stored with the same bytes
    failed: int = 0  # C-STOREs answered with a failure status
    warnings: list[str] = field(default_factory=list)  # conflicts: first copy kept
    errors: list[str] = field(default_factory=list)  # failure reasons
    catalog: ImportReport | None = None
    index_error: str | None = None

    def add(self, outcome: StoreOutcome) -> None:
        if not outcome.ok:
            self.failed += 1
            self.errors.append(f"{outcome.sop_instance_uid}: {outcome.message}")
        elif outcome.outcome is WriteOutcome.STORED and outcome.path is not None:
            self.files.append(outcome.path)
        elif outcome.outcome is WriteOutcome.IDENTICAL:
            self.identical += 1
        else:
            self.warnings.append(outcome.message)


class StorageServer:
    """A C-STORE / C-ECHO SCP writing into ``directory`` and indexing into ``catalog``.

    ``catalog`` is a :class:`Catalog` (kept open), a catalog file path, or None for the per-user catalog
    (both opened in :meth:`start`, closed in :meth:`stop`). ``on_instance(calling_ae, outcome)`` runs in
    the association's thread after each C-STORE; ``on_association(report)`` in the indexer thread.
    Callbacks must be quick and must not raise (exceptions are logged and ignored).
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        ae_title: str = DEFAULT_AE_TITLE,
        host: str = "127.0.0.1",
        port: int = 11112,
        allowed_aes: Sequence[str] = (),
        max_associations: int = 10,
        catalog: Catalog | str | os.PathLike | None = None,
        timeout: float = 30.0,
        on_instance: Callable[[str, StoreOutcome], None] | None = None,
        on_association: Callable[[AssociationReport], None] | None = None,
    ) -> None:
        self.directory = Path(directory).absolute()
        self.ae_title = ae_title
        self.host = host
        self.port = port
        self.allowed_aes = [a.strip() for a in allowed_aes]
        self.max_associations = max_associations
        self.timeout = timeout
        self._catalog_arg = catalog
        self._on_instance = on_instance
        self._on_association = on_association
        self._lock = threading.Lock()
        self._open: dict[Association, AssociationReport] = {}
        self._finished: weakref.WeakSet[Association] = weakref.WeakSet()
        self._ae: AE | None = None
        self._server: ThreadedAssociationServer | None = None
        self._catalog: Catalog | None = None
        self._indexer: CatalogIndexer | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> StorageServer:
        """Create the folder (0o750), open the catalog and start listening; ``port`` 0 picks a free one."""
        if self._server is not None:
            raise RuntimeError("the storage server is already running")
        store = InstanceStore(self.directory)
        arg = self._catalog_arg
        catalog = arg if isinstance(arg, Catalog) else Catalog(arg)
        ae = self._build_ae()
        handlers: list[EventHandlerType] = [
            (evt.EVT_C_STORE, self._handle_store, [store]),
            (evt.EVT_C_ECHO, lambda event: 0x0000),
            (evt.EVT_RELEASED, self._handle_end),
            (evt.EVT_ABORTED, self._handle_end),
            (evt.EVT_CONN_CLOSE, self._handle_end),
        ]
        try:
            server = ae.start_server((self.host, self.port), block=False, evt_handlers=handlers)
            if server is None:  # pynetdicom returns the server of every non-blocking start
                raise RuntimeError("pynetdicom started no background server")
        except BaseException:
            if catalog is not arg:
                catalog.close()
            raise
        self._ae, self._server, self._catalog = ae, server, catalog
        self._indexer = CatalogIndexer(catalog)
        self.port = server.server_address[1]
        LOGGER.info("storage SCP %s listening on %s:%d", self.ae_title, self.host, self.port)
        return self

    def stop(self) -> None:
        """Stop listening, abort open associations, index what they delivered, close the catalog."""
        if self._server is None:
            return
        ae, indexer, catalog = self._ae, self._indexer, self._catalog
        assert ae is not None and indexer is not None and catalog is not None
        self._server.shutdown()
        ae.shutdown()
        for assoc in list(ae.active_associations):
            assoc.join(self.timeout)
        with self._lock:
            pending = list(self._open.values())
            self._open.clear()
        for report in pending:
            self._submit(report)
        indexer.close()
        if catalog is not self._catalog_arg:
            catalog.close()
        self._server = self._ae = self._indexer = self._catalog = None

    def __enter__(self) -> StorageServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no association is open and everything received is indexed; False on timeout."""
        if self._ae is None or self._indexer is None:
            return True
        ae, indexer = self._ae, self._indexer
        deadline = time.monotonic() + timeout
        while any(a.is_alive() for a in ae.active_associations):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return indexer.wait_idle(max(deadline - time.monotonic(), 0.0))

    # -- pynetdicom --------------------------------------------------------------------------------------

    def _build_ae(self) -> AE:
        ae = AE(ae_title=self.ae_title)
        for uid in abstract_syntaxes(AllStoragePresentationContexts):
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
        ae.require_calling_aet = self.allowed_aes
        ae.maximum_associations = self.max_associations
        ae.acse_timeout = ae.dimse_timeout = self.timeout
        ae.network_timeout = max(self.timeout, 60.0)
        return ae

    def _handle_store(self, event: Event, store: InstanceStore) -> object:
        outcome = store_instance(event, store)
        assoc = event.assoc
        with self._lock:
            report = self._open.get(assoc)
            late = assoc in self._finished
            if report is None:
                report = AssociationReport(_calling_ae(assoc), _address(assoc))
                if not late:
                    self._open[assoc] = report
            report.add(outcome)
        if outcome.message:
            log = LOGGER.warning if outcome.ok else LOGGER.error
            log("C-STORE from %s: %s", report.calling_ae, outcome.message)
        if late:  # the connection closed while this instance was being written
            self._submit(report)
        if self._on_instance is not None:
            _call(self._on_instance, report.calling_ae, outcome)
        return outcome.response()

    def _handle_end(self, event: Event) -> None:
        with self._lock:
            self._finished.add(event.assoc)
            report = self._open.pop(event.assoc, None)
        if report is not None:
            self._submit(report)

    def _submit(self, report: AssociationReport) -> None:
        indexer = self._indexer
        if indexer is None:
            return

        def done(imported: ImportReport | None, error: Exception | None) -> None:
            report.catalog = imported
            report.index_error = f"{type(error).__name__}: {error}" if error else None
            if self._on_association is not None:
                _call(self._on_association, report)

        indexer.submit(report.files, done)


def _calling_ae(assoc: Association) -> str:
    return str(assoc.requestor.ae_title).strip()


def _address(assoc: Association) -> str:
    return f"{assoc.requestor.address}:{assoc.requestor.port}"


def _call(callback: Callable[..., None], *args: object) -> None:
    try:
        callback(*args)
    except Exception:
        LOGGER.exception("storage server callback failed")
