"""Opening an SCU association to a configured PACS, with errors a user can act on."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydicom.uid import UID
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext

from engine.net.pacs_config import PacsConfig

# (abstract syntax, transfer syntaxes) pairs to propose.
Contexts = Sequence[tuple[str, Sequence[str]]]
MAX_CONTEXTS = 128  # PS3.8: presentation context IDs are the odd numbers 1..255


class DicomNetError(Exception):
    """A network operation failed (no connection, rejected association, failure status...)."""


@contextmanager
def associate(
    pacs: PacsConfig,
    contexts: Contexts,
    *,
    roles: Sequence[Any] = (),
    handlers: Sequence[Any] = (),
) -> Iterator[Association]:
    """An established association (released on exit); DicomNetError says why there is none."""
    if len(contexts) > MAX_CONTEXTS:
        raise ValueError(f"{len(contexts)} presentation contexts requested; at most {MAX_CONTEXTS}")
    ae = AE(ae_title=pacs.our_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = pacs.timeout
    ae.connection_timeout = pacs.timeout
    for abstract, syntaxes in contexts:
        ae.add_requested_context(abstract, list(syntaxes))
    assoc = ae.associate(
        pacs.host,
        pacs.port,
        ae_title=pacs.called_ae,
        ext_neg=list(roles) or None,
        evt_handlers=list(handlers),
    )
    if not assoc.is_established:
        raise DicomNetError(_why_not(pacs, assoc))
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()
        ae.shutdown()


def abstract_syntaxes(contexts: Iterable[PresentationContext]) -> list[UID]:
    """The abstract syntax (SOP class UID) of each of pynetdicom's predefined presentation ``contexts``."""
    uids = []
    for context in contexts:
        if context.abstract_syntax is None:
            raise ValueError(f"presentation context {context} has no abstract syntax")
        uids.append(context.abstract_syntax)
    return uids


def _why_not(pacs: PacsConfig, assoc: Association) -> str:
    where = f"{pacs.called_ae}@{pacs.host}:{pacs.port}"
    rsp = assoc.acceptor.primitive  # the peer's A-ASSOCIATE response; None when it never answered
    if rsp is None:
        return f"no association with {where} (connection refused or timed out after {pacs.timeout:g} s)"
    if assoc.is_rejected:
        return (
            f"association rejected by {where}: {rsp.result_str}, source {rsp.source_str}, reason "
            f"{rsp.reason_str} (is {pacs.our_ae!r} configured on the PACS?)"
        )
    return f"association aborted by {where}"
