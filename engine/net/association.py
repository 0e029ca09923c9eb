"""Opening an SCU association to a configured PACS, with errors a user can act on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pynetdicom import AE
from pynetdicom.association import Association

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


def _why_not(pacs: PacsConfig, assoc: Association) -> str:
    where = f"{pacs.called_ae}@{pacs.host}:{pacs.port}"
    if assoc.is_rejected:
        rsp = assoc.acceptor.primitive
        return (
            f"association rejected by {where}: {rsp.result_str}, source {rsp.source_str}, reason "
            f"{rsp.reason_str} (is {pacs.our_ae!r} configured on the PACS?)"
        )
    if assoc.acceptor.primitive is not None:
        return f"association aborted by {where}"
    return f"no association with {where} (connection refused or timed out after {pacs.timeout:g} s)"
