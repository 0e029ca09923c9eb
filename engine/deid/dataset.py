"""De-identification of one dataset: the profile, pseudonyms, method attributes and file meta."""

from __future__ import annotations

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from engine.deid.actions import Scope, apply_actions
from engine.deid.burned_in import BurnedInAnnotationError, burned_in_reason
from engine.deid.clean import Scrubber, identifying_phrases
from engine.deid.context import DeidContext
from engine.deid.iod import types_for
from engine.deid.method import record_method
from engine.deid.options import DeidOptions
from engine.deid.profile import profile_for


def deidentify_dataset(ds: Dataset, options: DeidOptions, context: DeidContext) -> None:
    """De-identify ``ds`` in place; raises BurnedInAnnotationError unless burned-in images are allowed."""
    reason = burned_in_reason(ds)
    if reason and not options.allow_burned_in:
        raise BurnedInAnnotationError(reason)
    profile = profile_for(options.table_columns())
    patient_key = context.patient_key(ds)
    transfer_syntax = _transfer_syntax(ds)
    if options.retain_long_full_dates:
        date_action = "K"
    elif options.retain_long_modified_dates:
        date_action = "C"
    else:
        date_action = "D"
    scope = Scope(
        profile=profile,
        context=context,
        date_shift_days=context.date_shift_days(patient_key) if options.retain_long_modified_dates else None,
        undocumented_date_action=date_action,
        scrub=Scrubber(identifying_phrases(ds, profile)),
        iod=types_for(str(ds.get("SOPClassUID", ""))),
    )
    apply_actions(ds, scope)
    ds.PatientID, ds.PatientName = context.pseudonym(patient_key)
    record_method(ds, options)
    ds.file_meta = _file_meta(ds, transfer_syntax)
    ds.preamble = bytes(128)


def _transfer_syntax(ds: Dataset) -> str:
    """The transfer syntax the dataset was stored in (from its file meta, else from how it was read)."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID"):
        return str(meta.TransferSyntaxUID)
    implicit, little = ds.original_encoding
    if implicit is None:
        return ExplicitVRLittleEndian
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _file_meta(ds: Dataset, transfer_syntax: str) -> FileMetaDataset:
    """A fresh file meta group: same transfer syntax, media-storage UIDs from the de-identified dataset."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(transfer_syntax)
    return meta
