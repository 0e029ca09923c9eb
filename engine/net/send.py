"""C-STORE of files to a configured PACS (SEG, SR, exports), and of a study de-identified on the way out."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pynetdicom.association import Association

from engine.deid import DeidContext, DeidOptions, DeidReport, deidentify_tree
from engine.net.association import MAX_CONTEXTS, DicomNetError, associate
from engine.net.pacs_config import PacsConfig
from engine.progress import CancelToken, ProgressCallback, report

WARNINGS = (0xB000, 0xB006, 0xB007)


@dataclass
class SendResult:
    """Per-file outcome of a send: stored, stored with a warning status, failed (with the reason)."""

    sent: list[Path] = field(default_factory=list)
    warnings: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled

    def summary(self) -> str:
        text = f"{len(self.sent)} sent, {len(self.warnings)} with warnings, {len(self.failed)} failed"
        return text + (" (cancelled)" if self.cancelled else "")


@dataclass
class DeidSendResult:
    """A de-identified send: what de-identification did, then what the send did."""

    deid: DeidReport
    send: SendResult


def send(
    pacs: PacsConfig,
    files: Iterable[str | os.PathLike],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SendResult:
    """C-STORE each file in its own transfer syntax (one presentation context per SOP class + syntax).

    Unreadable files are reported as failed; more than 128 (class, syntax) pairs use several associations.
    """
    result = SendResult()
    groups: dict[tuple[str, str], list[Path]] = {}
    for path in map(Path, files):
        try:
            meta = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"]).file_meta
            key = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
        except Exception as error:  # not DICOM / no file meta: reported per file
            result.failed.append((path, f"cannot read: {error}"))
            continue
        groups.setdefault(key, []).append(path)
    keys = sorted(groups)
    total = sum(len(v) for v in groups.values())
    done = 0
    for start in range(0, len(keys), MAX_CONTEXTS):
        chunk = keys[start : start + MAX_CONTEXTS]
        with associate(pacs, [(sop_class, [syntax]) for sop_class, syntax in chunk]) as assoc:
            for key in chunk:
                for path in groups[key]:
                    if cancel is not None and cancel.cancelled:
                        result.cancelled = True
                        return result
                    _store_one(assoc, path, result)
                    done += 1
                    report(progress, done, total, path.name)
    return result


def send_deidentified(
    pacs: PacsConfig,
    study_folder: str | os.PathLike,
    options: DeidOptions,
    *,
    key: bytes | None = None,
    allow_partial: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DeidSendResult:
    """De-identify ``study_folder`` into a private temp folder, send the copies, delete them.

    If any file is refused (e.g. burned-in annotations) or fails, nothing is sent unless ``allow_partial``
    (DicomNetError names the count); ``key`` keeps UIDs and pseudonyms consistent across sends.
    """
    with tempfile.TemporaryDirectory(prefix="sightline-deid-") as work:
        deid = deidentify_tree(
            study_folder, Path(work) / "out", options, cancel=cancel, context=DeidContext(key)
        )
        problems = len(deid.refused) + len(deid.errors)
        if problems and not allow_partial:
            raise DicomNetError(
                f"de-identification refused or failed {problems} file(s) "
                f"(first: {(deid.refused + deid.errors)[0][1]}); nothing sent"
            )
        if not deid.written:
            raise DicomNetError(f"no DICOM file to send under {study_folder}")
        sent = send(pacs, [out for _, out in deid.written], progress=progress, cancel=cancel)
    return DeidSendResult(deid, sent)


def _store_one(assoc: Association, path: Path, result: SendResult) -> None:
    if not assoc.is_established:
        result.failed.append((path, "association lost"))
        return
    try:
        status = assoc.send_c_store(path)
    except ValueError as error:  # pynetdicom: no accepted presentation context for this class / syntax
        result.failed.append((path, f"not accepted by the peer: {error}"))
        return
    if "Status" not in status:
        result.failed.append((path, "no C-STORE response (timeout or abort)"))
    elif status.Status == 0x0000:
        result.sent.append(path)
    elif status.Status in WARNINGS:
        result.warnings.append((path, f"status 0x{status.Status:04X}"))
    else:
        comment = status.get("ErrorComment", "")
        result.failed.append((path, f"status 0x{status.Status:04X} {comment}".strip()))
