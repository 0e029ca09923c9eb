"""One received C-STORE request -> a file on disk (the bytes as sent, with file meta) + the response status.

Shared by the storage SCP and by C-GET (where we are the storage SCP on our own association).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom.events import Event

from engine.net.instance_store import InstanceStore, WriteOutcome
from engine.net.uids import InvalidUidError, checked_uid

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700  # PS3.4 B.2.3: Refused, out of resources
CANNOT_UNDERSTAND = 0xC000  # PS3.4 B.2.3: Error, cannot understand
MAX_COMMENT = 64  # Error Comment is LO


@dataclass(frozen=True)
class StoreOutcome:
    """The result of one C-STORE: the response status, the file holding the instance, and why if not."""

    status: int
    sop_instance_uid: str
    path: Path | None = None
    outcome: WriteOutcome | None = None
    message: str = ""  # the failure reason, or the conflict warning

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS

    def response(self) -> Dataset:
        """The C-STORE response status dataset (with an Error Comment on failure)."""
        ds = Dataset()
        ds.Status = self.status
        if not self.ok and self.message:
            ds.ErrorComment = self.message[:MAX_COMMENT]
        return ds


def store_instance(event: Event, store: InstanceStore) -> StoreOutcome:
    """Validate the UIDs of the received dataset and write its encoded bytes atomically into ``store``."""
    request_uid = str(getattr(event.request, "AffectedSOPInstanceUID", "") or "")
    try:
        ds = event.dataset
        study = checked_uid(ds.get("StudyInstanceUID"), "StudyInstanceUID")
        series = checked_uid(ds.get("SeriesInstanceUID"), "SeriesInstanceUID")
        sop = checked_uid(ds.get("SOPInstanceUID"), "SOPInstanceUID")
    except InvalidUidError as error:
        return StoreOutcome(CANNOT_UNDERSTAND, request_uid, message=str(error))
    except Exception as error:  # pydicom raises many types for a dataset it cannot decode
        return StoreOutcome(CANNOT_UNDERSTAND, request_uid, message=f"cannot decode dataset: {error}")
    if sop != request_uid:
        return StoreOutcome(CANNOT_UNDERSTAND, request_uid, message="SOPInstanceUID differs from the request")
    try:
        written = store.write(study, series, sop, event.encoded_dataset(include_meta=True))
    except OSError as error:
        return StoreOutcome(OUT_OF_RESOURCES, sop, message=f"cannot write: {error.strerror or error}")
    message = ""
    if written.outcome is WriteOutcome.CONFLICT:
        message = f"SOP Instance {sop} was already stored with different content; kept the first copy"
    return StoreOutcome(SUCCESS, sop, written.path, written.outcome, message)
