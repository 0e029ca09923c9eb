"""C-ECHO (verification) of a configured PACS."""

from __future__ import annotations

import time

from pynetdicom import DEFAULT_TRANSFER_SYNTAXES

from engine.net.association import DicomNetError, associate
from engine.net.pacs_config import PacsConfig
from engine.net.sop_classes import Verification


def echo(pacs: PacsConfig) -> float:
    """C-ECHO the PACS; returns the round trip in seconds (association included), DicomNetError on failure."""
    start = time.monotonic()
    with associate(pacs, [(Verification, DEFAULT_TRANSFER_SYNTAXES)]) as assoc:
        status = assoc.send_c_echo()
    if "Status" not in status:
        raise DicomNetError(f"no C-ECHO response from {pacs.called_ae} (timeout or abort)")
    if status.Status != 0x0000:
        raise DicomNetError(f"C-ECHO failed with status 0x{status.Status:04X}")
    return time.monotonic() - start
