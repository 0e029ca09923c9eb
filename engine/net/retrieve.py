"""C-MOVE (to a storage SCP, usually ours) and C-GET (into a folder + the catalog), with progress and cancel.

Progress is ``progress(done, total, message)`` from the PACS's pending responses (completed + failed +
warning sub-operations, of completed + remaining). A cancelled token sends one C-CANCEL; the PACS then
ends the retrieve with status 0xFE00 (``RetrieveResult.cancelled``), keeping what was already delivered.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import DEFAULT_TRANSFER_SYNTAXES, StoragePresentationContexts, build_role, evt
from pynetdicom.association import Association
from pynetdicom.events import Event

from engine.catalog import Catalog, ImportReport
from engine.net.association import DicomNetError, abstract_syntaxes, associate
from engine.net.indexer import index_files
from engine.net.instance_store import InstanceStore, WriteOutcome
from engine.net.pacs_config import PacsConfig
from engine.net.sop_classes import StudyRootQueryRetrieveInformationModelGet as GetModel
from engine.net.sop_classes import StudyRootQueryRetrieveInformationModelMove as MoveModel
from engine.net.store_handler import StoreOutcome, store_instance
from engine.net.uids import checked_uid
from engine.progress import CancelToken, ProgressCallback, report

PENDING = (0xFF00, 0xFF01)
CANCEL = 0xFE00
WARNING = 0xB000
# Transfer syntaxes we accept for C-GET sub-operations: uncompressed plus the common compressed ones, so
# the PACS can send what it stores without transcoding (the request stays small enough for every peer).
GET_TRANSFER_SYNTAXES = [
    *DEFAULT_TRANSFER_SYNTAXES, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, JPEGBaseline8Bit,
    JPEGExtended12Bit, JPEGLosslessSV1, JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless, JPEG2000,
    RLELossless,
]  # fmt: skip
# C-GET needs its storage SOP classes inside the 128 contexts of one association (one is the GET model).
GET_STORAGE_CLASSES = abstract_syntaxes(StoragePresentationContexts)[:127]


@dataclass
class RetrieveResult:
    """The final status and sub-operation counts of a C-MOVE / C-GET (``files``: C-GET only)."""

    status: int
    completed: int = 0
    failed: int = 0
    warning: int = 0
    failed_instances: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    catalog: ImportReport | None = None

    @property
    def cancelled(self) -> bool:
        return self.status == CANCEL

    @property
    def ok(self) -> bool:
        return self.status in (0x0000, WARNING) and not self.failed


def move(
    pacs: PacsConfig,
    destination_ae: str,
    study_uid: str,
    series_uid: str | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RetrieveResult:
    """Ask the PACS to C-STORE a study (or one series) to ``destination_ae`` (an AE the PACS knows)."""
    identifier = _identifier(study_uid, series_uid)
    with associate(pacs, [(MoveModel, DEFAULT_TRANSFER_SYNTAXES)]) as assoc:
        responses = assoc.send_c_move(identifier, destination_ae, MoveModel, msg_id=1)
        return _follow(pacs, assoc, responses, MoveModel, progress, cancel)


def get(
    pacs: PacsConfig,
    directory: str | os.PathLike,
    study_uid: str,
    series_uid: str | None = None,
    *,
    catalog: Catalog | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RetrieveResult:
    """C-GET a study (or one series) into ``directory/<study>/<series>/<instance>.dcm``, then index it."""
    identifier = _identifier(study_uid, series_uid)
    store = InstanceStore(directory)
    outcomes: list[StoreOutcome] = []

    def on_store(event: Event) -> Dataset:
        outcome = store_instance(event, store)
        outcomes.append(outcome)
        return outcome.response()

    contexts = [(GetModel, DEFAULT_TRANSFER_SYNTAXES)]
    contexts += [(uid, GET_TRANSFER_SYNTAXES) for uid in GET_STORAGE_CLASSES]
    roles = [build_role(uid, scp_role=True) for uid in GET_STORAGE_CLASSES]
    with associate(pacs, contexts, roles=roles, handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
        responses = assoc.send_c_get(identifier, GetModel, msg_id=1)
        result = _follow(pacs, assoc, responses, GetModel, progress, cancel)
    result.files = [o.path for o in outcomes if o.outcome is WriteOutcome.STORED and o.path is not None]
    result.errors += [f"{o.sop_instance_uid}: {o.message}" for o in outcomes if o.message]
    if catalog is not None and result.files:
        result.catalog = index_files(catalog, result.files)
    return result


def _identifier(study_uid: str, series_uid: str | None) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
    ds.StudyInstanceUID = checked_uid(study_uid, "StudyInstanceUID")
    if series_uid:
        ds.SeriesInstanceUID = checked_uid(series_uid, "SeriesInstanceUID")
    return ds


def _follow(
    pacs: PacsConfig,
    assoc: Association,
    responses: Iterator[tuple[Dataset, Dataset | None]],
    model: str,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> RetrieveResult:
    """Read the C-MOVE / C-GET responses to the final one, reporting progress and sending C-CANCEL once."""
    cancel_sent = False
    for status, identifier in responses:
        if "Status" not in status:
            raise DicomNetError(f"no retrieve response from {pacs.called_ae} (timeout or abort)")
        counts = _counts(status)
        if status.Status in PENDING:
            done = counts[0] + counts[1] + counts[2]
            remaining = int(status.get("NumberOfRemainingSuboperations", 0) or 0)
            report(progress, done, done + remaining, f"{done} of {done + remaining} instance(s)")
            if cancel is not None and cancel.cancelled and not cancel_sent:
                assoc.send_c_cancel(1, query_model=model)
                cancel_sent = True
            continue
        result = RetrieveResult(int(status.Status), *counts)
        if identifier is not None and "FailedSOPInstanceUIDList" in identifier:
            value = identifier.FailedSOPInstanceUIDList
            result.failed_instances = [value] if isinstance(value, str) else [str(v) for v in value]
        if status.Status not in (0x0000, WARNING, CANCEL):
            comment = status.get("ErrorComment", "")
            result.errors.append(f"retrieve ended with status 0x{status.Status:04X} {comment}".strip())
        total = result.completed + result.failed + result.warning
        report(progress, total, total, "done")
        return result
    raise DicomNetError(f"the retrieve from {pacs.called_ae} ended without a final response")


def _counts(status: Dataset) -> tuple[int, int, int]:
    completed, failed, warning = (
        int(status.get(f"NumberOf{kind}Suboperations", 0) or 0) for kind in ("Completed", "Failed", "Warning")
    )
    return completed, failed, warning
