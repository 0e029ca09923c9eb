"""De-identification (engine.deid + `sightline deid`), in the style of dicognito's tests: build small
studies with known PHI, de-identify them, then check UID consistency, pseudonyms, options and that no PHI
byte survives anywhere in the output files."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, generate_uid

from app.cli import main
from engine.deid import BurnedInAnnotationError, DeidContext, DeidOptions, deidentify_dataset, deidentify_tree
from engine.deid.iod import types_for
from engine.deid.profile import TABLE_PATH, load_rules, profile_for, resolve
from engine.progress import Cancelled, CancelToken

KEY = b"test-key"
SHARED_TABLE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ps3.15-table-E.1-1.json"

PATIENTS = {
    "A": {
        "PatientName": "Doe^Johnathan",
        "PatientID": "MRN8675309",
        "PatientBirthDate": "19610704",
        "PatientAddress": "42 Wallaby Way Sydney",
        "OtherPatientIDs": "XREF5551212",
    },
    "B": {
        "PatientName": "Roe^Marguerite",
        "PatientID": "MRN4433221",
        "PatientBirthDate": "19750212",
        "PatientAddress": "7 Quayside Lane Dunmore",
        "OtherPatientIDs": "XREF7778888",
    },
}
SITE = {
    "InstitutionName": "St Elsewhere General Hospital",
    "InstitutionAddress": "1 Hospital Plaza Boston",
    "ReferringPhysicianName": "Kildare^Jameson",
    "StationName": "CTSCAN77",
    "OperatorsName": "Tech^Rosalind",
    "DeviceSerialNumber": "SN-99AX771",
}


def _phi_dataset(base: str, patient: str, study_uid: str, series_uid: str, study_date: str) -> Dataset:
    """A pydicom test file re-labelled with one patient's PHI, a site, dates, references and a private tag."""
    ds = pydicom.dcmread(get_testdata_file(base))
    for keyword, value in PATIENTS[patient].items():
        if keyword != "OtherPatientIDs":
            setattr(ds, keyword, value)
    other = Dataset()
    other.PatientID = PATIENTS[patient]["OtherPatientIDs"]
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other])
    for keyword, value in SITE.items():
        setattr(ds, keyword, value)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[study_uid])
    ds.AccessionNumber = "ACC" + study_date[2:] + patient
    ds.StudyID = "SID" + study_date[4:]
    for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "InstanceCreationDate"):
        setattr(ds, keyword, study_date)
    ds.StudyTime = "101530"
    ds.StudyDescription = f"CT CHEST for {PATIENTS[patient]['PatientName'].replace('^', ' ')}"
    ds.add_new(0x00091010, "LO", "Private note about " + PATIENTS[patient]["PatientID"])
    return ds


def _write(ds: Dataset, folder: Path, name: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _phi_strings(ds: Dataset) -> set[str]:
    """Every PHI string of an input: the ones set above plus every date and every instance UID it holds."""
    strings = {str(v) for v in PATIENTS["A"].values()} | {str(v) for v in PATIENTS["B"].values()}
    strings |= set(SITE.values()) | {"Johnathan", "Wallaby", "Kildare", "Rosalind", "Marguerite", "Elsewhere"}
    strings |= {"CompressedSamples", "JFK IMAGING CENTER", "ABCD1234", "1234ABCD"}
    for elem in ds.iterall():
        if elem.VR in ("DA", "DT") and elem.value:
            strings.add(str(elem.value))
        if elem.VR == "UI" and elem.value and not str(elem.value).startswith("1.2.840.10008."):
            strings.add(str(elem.value))
        if elem.keyword in ("AccessionNumber", "StudyID") and elem.value:
            strings.add(str(elem.value))
    return {s for s in strings if s}


def _assert_no_phi(output: Path, phi: set[str]) -> None:
    raw = output.read_bytes()
    for text in phi:
        for encoded in {
            text.encode("ascii", "ignore"),
            text.encode("latin-1", "ignore"),
            text.upper().encode(),
        }:
            assert encoded not in raw, f"{text!r} survives in {output.name}"


def _run(inputs: Path, out: Path, **options: bool) -> list[pydicom.Dataset]:
    report = deidentify_tree(inputs, out, DeidOptions(**options), context=DeidContext(KEY))
    assert not report.errors and not report.refused, (report.errors, report.refused)
    return [pydicom.dcmread(dst) for _, dst in report.written]


def _by_original(report_pairs, originals: dict[Path, Dataset]) -> dict[str, Dataset]:
    return {str(originals[src].SOPInstanceUID): pydicom.dcmread(dst) for src, dst in report_pairs}


# ---------------------------------------------------------------- the table


def test_table_is_the_shared_snapshot_and_every_row_is_understood():
    rows = json.loads(TABLE_PATH.read_text())
    if SHARED_TABLE.exists():
        assert rows == json.loads(SHARED_TABLE.read_text())
    assert len(load_rules()) == len(rows) == 621
    profile = profile_for(frozenset())
    assert profile.action_for(0x60023000) == "X" and profile.is_repeating_group(0x60023000)
    assert profile.action_for(0x50001234) == "X"
    assert profile.action_for(0x00080050) == "Z"  # Accession Number
    assert profile.action_for(0x00080080) == "X/Z/D"  # Institution Name: resolved per IOD, below
    assert profile.action_for(0x00080022) == "X/Z"  # Acquisition Date
    assert profile.action_for(0x00081140) == "X/Z/U*"  # Referenced Image Sequence
    assert profile.action_for(0x00080016) is None  # SOP Class UID: not listed, kept
    assert profile.private_action == "X"


@pytest.mark.parametrize(
    ("action", "attribute_type", "expected"),
    [
        ("X/Z", "3", "X"), ("X/Z", "2", "Z"), ("X/Z", "2C", "Z"), ("X/Z", "1", "D"), ("X/Z", None, "Z"),
        ("X/D", "3", "X"), ("X/D", "2", "D"), ("X/D", "1C", "D"), ("X/D", None, "D"),
        ("X/Z/D", "3", "X"), ("X/Z/D", "1", "D"), ("X/Z/D", None, "D"),
        ("X/Z/U*", "3", "X"), ("X/Z/U*", "2", "U"), ("X/Z/U*", "1", "U"), ("X/Z/U*", None, "U"),
        ("Z/D", "3", "D"), ("Z", "3", "Z"), ("Z", "1", "D"),
        ("X", "3", "X"), ("X", None, "X"), ("X", "2C", "Z"), ("X", "1", "D"),
        ("K", "3", "K"), ("C", "1", "C"), ("U", "3", "U"), ("D", "3", "D"),
    ],
)
def test_combined_actions_resolve_by_the_attribute_type(action, attribute_type, expected):
    """PS3.15: "X unless Z [D, U] is required to maintain IOD conformance"; without IOD knowledge the
    choice that never breaks a requirement."""
    assert resolve(action, attribute_type) == expected


def test_attribute_types_come_from_the_iod_at_the_attribute_path():
    ct = types_for(CTImageStorage)
    assert ct is not None and ct.iod == "ct-image"
    assert ct.type_of((), "ReferencedStudySequence") == "3"
    assert ct.type_of((), "ResponsiblePerson") == "2C"
    assert ct.type_of((), "PatientName") == "2"
    assert ct.type_of((), "SOPInstanceUID") == "1"
    assert ct.type_of(("ReferencedImageSequence",), "ReferencedSOPInstanceUID") == "1"
    assert ct.type_of((), "NoSuchKeywordAnywhere") == "3"  # not part of this IOD
    assert ct.type_of(("NotASequenceOfThisIod",), "CodeValue") is None  # the tables cannot say
    assert types_for("1.2.3.4.999") is None


def test_option_columns_override_the_basic_action():
    both = DeidOptions(retain_device_identity=True, retain_long_modified_dates=True).table_columns()
    assert profile_for(both).action_for(0x00181203) == "C"  # Calibration DateTime: K and C -> C
    assert profile_for(DeidOptions(retain_uids=True).table_columns()).action_for(0x00080018) == "K"
    assert profile_for(DeidOptions(retain_safe_private=True).table_columns()).private_action == "C"
    with pytest.raises(ValueError):
        DeidOptions(retain_long_full_dates=True, retain_long_modified_dates=True)


# ---------------------------------------------------------------- one instance


def test_one_instance(tmp_path):
    ds = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    src = _write(ds, tmp_path / "in", "ct.dcm")
    original = pydicom.dcmread(src)
    (out,) = _run(src, tmp_path / "out")
    out_path = Path(out.filename)
    _assert_no_phi(out_path, _phi_strings(original))
    assert out.PatientIdentityRemoved == "YES"
    assert out.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    assert out.PatientID.startswith("SL") and out.PatientName == f"ANONYMOUS^{out.PatientID}"
    assert out.SOPInstanceUID.startswith("2.25.") and out.SOPClassUID == original.SOPClassUID
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert "SourceApplicationEntityTitle" not in out.file_meta
    assert out.PixelData == original.PixelData
    assert not any(elem.tag.is_private for elem in out.iterall())
    assert "OtherPatientIDsSequence" not in out and out.AccessionNumber == ""
    assert out_path.relative_to(tmp_path / "out").parts == (
        out.StudyInstanceUID,
        out.SeriesInstanceUID,
        out.SOPInstanceUID + ".dcm",
    )


# ---------------------------------------------------------------- UID consistency


def test_series_of_two_instances_keeps_references(tmp_path):
    study, series = generate_uid(), generate_uid()
    first = _phi_dataset("CT_small.dcm", "A", study, series, "20230315")
    second = _phi_dataset("CT_small.dcm", "A", study, series, "20230315")
    ref = Dataset()
    ref.ReferencedSOPClassUID = first.SOPClassUID
    ref.ReferencedSOPInstanceUID = first.SOPInstanceUID
    second.ReferencedInstanceSequence = Sequence([ref])  # not in Table E.1-1: kept, its UIDs mapped
    second.ReferencedImageSequence = Sequence([ref])  # X/Z/U*, Type 3 in the CT IOD: removed
    originals = {_write(d, tmp_path / "in", f"{i}.dcm"): d for i, d in enumerate((first, second))}
    report = deidentify_tree(tmp_path / "in", tmp_path / "out", DeidOptions(), context=DeidContext(KEY))
    out = _by_original(report.written, originals)
    new_first, new_second = out[first.SOPInstanceUID], out[second.SOPInstanceUID]
    assert new_first.StudyInstanceUID == new_second.StudyInstanceUID
    assert new_first.SeriesInstanceUID == new_second.SeriesInstanceUID
    assert new_first.FrameOfReferenceUID == new_second.FrameOfReferenceUID
    assert new_first.SOPInstanceUID != new_second.SOPInstanceUID
    assert "ReferencedImageSequence" not in new_second
    item = new_second.ReferencedInstanceSequence[0]
    assert item.ReferencedSOPInstanceUID == new_first.SOPInstanceUID
    assert item.ReferencedSOPClassUID == first.SOPClassUID  # well-known UIDs are never remapped
    for src, dst in report.written:
        _assert_no_phi(dst, _phi_strings(originals[src]))


def test_study_with_two_series(tmp_path):
    study = generate_uid()
    ct = _phi_dataset("CT_small.dcm", "A", study, generate_uid(), "20230315")
    mr = _phi_dataset("MR_small.dcm", "A", study, generate_uid(), "20230315")
    outputs = _run(_folder(tmp_path, ct, mr), tmp_path / "out")
    assert len({o.StudyInstanceUID for o in outputs}) == 1
    assert len({o.SeriesInstanceUID for o in outputs}) == 2
    assert len({o.PatientID for o in outputs}) == 1


def test_one_patient_two_studies_share_pseudonym_and_date_shift(tmp_path):
    first = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    later = _phi_dataset("MR_small.dcm", "A", generate_uid(), generate_uid(), "20230415")
    outputs = _run(_folder(tmp_path, first, later), tmp_path / "out", retain_long_modified_dates=True)
    by_date = sorted(outputs, key=lambda o: o.StudyDate)
    assert len({o.PatientID for o in outputs}) == 1 and len({o.StudyInstanceUID for o in outputs}) == 2
    shifted = [int(o.StudyDate) for o in by_date]
    assert shifted[0] < 20230315 and by_date[0].StudyDate != "20230315"
    days = [dt.date(int(s[:4]), int(s[4:6]), int(s[6:])) for s in (o.StudyDate for o in by_date)]
    assert (days[1] - days[0]).days == 31  # the interval between the studies is kept
    assert all(o.SeriesDate == o.StudyDate == o.ContentDate for o in outputs)
    assert all(o.StudyTime == "101530" for o in outputs)  # times are kept
    assert all(o.LongitudinalTemporalInformationModified == "MODIFIED" for o in outputs)
    assert all(o.PatientBirthDate == "" for o in outputs)


def test_two_patients_get_different_pseudonyms_and_shifts(tmp_path):
    a = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    b = _phi_dataset("CT_small.dcm", "B", generate_uid(), generate_uid(), "20230315")
    originals = {_write(d, tmp_path / "in", f"{i}.dcm"): d for i, d in enumerate((a, b))}
    options = DeidOptions(retain_long_modified_dates=True)
    report = deidentify_tree(tmp_path / "in", tmp_path / "out", options, context=DeidContext(KEY))
    out = _by_original(report.written, originals)
    new_a, new_b = out[a.SOPInstanceUID], out[b.SOPInstanceUID]
    assert new_a.PatientID != new_b.PatientID and new_a.PatientName != new_b.PatientName
    assert new_a.StudyDate != new_b.StudyDate  # same real date, different keyed shifts
    for src, dst in report.written:
        _assert_no_phi(dst, _phi_strings(originals[src]))


def test_same_key_is_stable_across_runs_and_a_new_key_is_not(tmp_path):
    ds = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    src = _write(ds, tmp_path / "in", "ct.dcm")
    once = deidentify_tree(src, tmp_path / "o1", DeidOptions(), context=DeidContext(KEY)).written
    again = deidentify_tree(src, tmp_path / "o2", DeidOptions(), context=DeidContext(KEY)).written
    other = deidentify_tree(src, tmp_path / "o3", DeidOptions(), context=DeidContext(b"other")).written
    assert once[0][1].read_bytes() == again[0][1].read_bytes()
    assert once[0][1].name != other[0][1].name


def _folder(tmp_path: Path, *datasets: Dataset) -> Path:
    for index, ds in enumerate(datasets):
        _write(ds, tmp_path / "in", f"{index}.dcm")
    return tmp_path / "in"


# ---------------------------------------------------------------- options


def _one(tmp_path: Path, **options: bool) -> tuple[Dataset, Dataset]:
    ds = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    ds.PatientSex, ds.PatientAge = "F", "061Y"
    siemens = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    siemens.add_new(0x0C, "IS", "1000")
    src = _write(ds, tmp_path / "in", "ct.dcm")
    (out,) = _run(src, tmp_path / "out", **options)
    return pydicom.dcmread(src), out


def test_default_profile_removes_what_the_options_would_keep(tmp_path):
    original, out = _one(tmp_path)
    # X/Z/D and X/D attributes that are Type 3 in the CT IOD are removed, Type 2 ones emptied (Z)
    assert "StationName" not in out and "InstitutionName" not in out and "DeviceSerialNumber" not in out
    assert "InstitutionAddress" not in out and "SeriesDate" not in out
    assert out.PatientSex == "" and "PatientAge" not in out and "StudyDescription" not in out
    assert out.StudyDate == "" and out.ReferringPhysicianName == ""
    assert out.StudyInstanceUID != original.StudyInstanceUID


def test_retain_uids(tmp_path):
    original, out = _one(tmp_path, retain_uids=True)
    assert out.StudyInstanceUID == original.StudyInstanceUID
    assert out.SOPInstanceUID == original.SOPInstanceUID == out.file_meta.MediaStorageSOPInstanceUID
    assert out.DeidentificationMethodCodeSequence[1].CodeValue == "113110"


def test_retain_device_identity(tmp_path):
    _, out = _one(tmp_path, retain_device_identity=True)
    assert out.StationName == SITE["StationName"] and out.DeviceSerialNumber == SITE["DeviceSerialNumber"]
    assert "InstitutionName" not in out


def test_retain_institution_identity(tmp_path):
    _, out = _one(tmp_path, retain_institution_identity=True)
    assert out.InstitutionName == SITE["InstitutionName"]
    assert out.InstitutionAddress == SITE["InstitutionAddress"]
    assert "StationName" not in out


def test_retain_patient_characteristics(tmp_path):
    _, out = _one(tmp_path, retain_patient_characteristics=True)
    assert out.PatientSex == "F" and out.PatientAge == "061Y"
    assert out.PatientBirthDate == ""


def test_retain_full_dates(tmp_path):
    _, out = _one(tmp_path, retain_long_full_dates=True)
    assert out.StudyDate == out.SeriesDate == "20230315" and out.StudyTime == "101530"
    assert out.LongitudinalTemporalInformationModified == "UNMODIFIED"
    assert out.PatientBirthDate == ""  # Z in every option column


def test_clean_descriptors_keeps_meaning_and_drops_identifiers(tmp_path):
    _, out = _one(tmp_path, clean_descriptors=True)
    assert out.StudyDescription == "CT CHEST for"
    assert out.DeidentificationMethod[1] == "Clean Descriptors"


def test_retain_safe_private(tmp_path):
    _, plain = _one(tmp_path / "plain")
    _, safe = _one(tmp_path / "safe", retain_safe_private=True)
    assert not any(elem.tag.is_private for elem in plain)
    kept = sorted(str(elem.value) for elem in safe if elem.tag.is_private)
    assert kept == ["1000", "SIEMENS MR HEADER"]  # the b-value and its creator; GE's private tags are gone


# ---------------------------------------------------------------- sequences


def test_sequences_are_recursed(tmp_path):
    ds = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    inner = Dataset()
    inner.PersonName = "Nested^Person"
    inner.InstitutionName = "Nested Institute of Radiology"
    inner.ReferencedSOPClassUID, inner.ReferencedSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    inner.add_new(0x00191001, "LO", "nested private")
    ds.ReferencedInstanceSequence = Sequence([inner])  # in the CT IOD: its items' types are known
    region = Dataset()
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = "T-D3000", "SRT", "Chest"
    region.ObservationDateTime = "20230315101530"
    ds.AnatomicRegionSequence = Sequence([region])
    site_code = Dataset()
    site_code.CodeValue, site_code.CodingSchemeDesignator, site_code.CodeMeaning = (
        "SEGH01",
        "99HOSP",
        "Elsewhere",
    )
    ds.InstitutionCodeSequence = Sequence([site_code])
    text = Dataset()
    text.ValueType, text.TextValue = "TEXT", "Patient Johnathan Doe reports pain"
    unknown = Dataset()  # an item of a sequence the CT IOD does not describe: no type to go by
    unknown.InstitutionName = "Other Institute of Radiology"
    unknown.InstitutionCodeSequence = Sequence([Dataset(site_code)])
    ds.ContentSequence = Sequence([text, unknown])
    src = _write(ds, tmp_path / "in", "ct.dcm")
    (out,) = _run(src, tmp_path / "out")
    _assert_no_phi(Path(out.filename), _phi_strings(pydicom.dcmread(src)) | {"Nested", "Institute", "Other"})
    item = out.AnatomicRegionSequence[0]
    assert item.CodeMeaning == "Chest" and "ObservationDateTime" not in item  # not part of this item: X
    nested = out.ReferencedInstanceSequence[0]
    assert nested.PersonName == "ANONYMOUS^" and "InstitutionName" not in nested  # D; X/Z/D, not in the IOD
    assert nested.ReferencedSOPInstanceUID == out.SOPInstanceUID
    assert not any(elem.tag.is_private for elem in nested)
    assert out.ContentSequence[0].TextValue == "ANONYMIZED"  # D sequence: free text dummied
    assert "InstitutionCodeSequence" not in out  # X/Z/D, Type 3 in the CT IOD: removed
    fallback = out.ContentSequence[1]  # no IOD knowledge: the never-breaking choice, X/Z/D -> D
    assert fallback.InstitutionName == "ANONYMIZED"
    assert fallback.InstitutionCodeSequence[0].CodingSchemeDesignator == "99SLDEID"  # dummy code


def test_type_3_references_are_removed_and_required_ones_kept_empty(tmp_path):
    """X/Z: Referenced Study Sequence is Type 3 at the top of an SR (removed) but Type 2 inside its
    Referenced Request Sequence (kept, with zero items), so dciodvfy finds nothing new."""
    ds = pydicom.dcmread(get_testdata_file("reportsi.dcm"))
    study_ref = Dataset()
    study_ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study_ref.ReferencedSOPInstanceUID = generate_uid()
    ds.ReferencedStudySequence = Sequence([study_ref])
    request = Dataset()
    request.StudyInstanceUID = ds.StudyInstanceUID
    request.ReferencedStudySequence = Sequence([Dataset(study_ref)])
    request.AccessionNumber = "ACC123456"
    request.RequestedProcedureDescription = "CT for Doe Johnathan"
    request.RequestedProcedureCodeSequence = Sequence()
    request.RequestedProcedureID = "RP1"
    request.PlacerOrderNumberImagingServiceRequest = "PO1"
    request.FillerOrderNumberImagingServiceRequest = "FO1"
    ds.ReferencedRequestSequence = Sequence([request])
    src = _write(ds, tmp_path / "in", "sr.dcm")
    (out,) = _run(src, tmp_path / "out")
    assert "ReferencedStudySequence" not in out
    kept = out.ReferencedRequestSequence[0]
    assert "ReferencedStudySequence" in kept and len(kept.ReferencedStudySequence) == 0
    assert kept.RequestedProcedureDescription == ""
    assert kept.StudyInstanceUID == out.StudyInstanceUID != ds.StudyInstanceUID


def test_non_human_patient_keeps_responsible_person_and_organization_empty(tmp_path):
    """Responsible Person / Organization are X in Table E.1-1 but Type 2C, required for a non-human
    patient: they are emptied, not removed; the species and breed are not identifying and stay. This fails
    without the IOD-aware resolution: dciodvfy then reports both as missing."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PatientSpeciesDescription = "Feline"
    ds.PatientBreedDescription = "Siamese"
    ds.PatientBreedCodeSequence = Sequence()
    ds.BreedRegistrationSequence = Sequence()
    ds.ResponsiblePerson = "Owner^Margaret"
    ds.ResponsiblePersonRole = "OWNER"
    ds.ResponsibleOrganization = "Happy Paws Veterinary Clinic"
    ds.PatientSexNeutered = "ALTERED"
    src = _write(ds, tmp_path / "in", "cat.dcm")
    (out,) = _run(src, tmp_path / "out")
    assert out.ResponsiblePerson == "" and out.ResponsibleOrganization == ""
    assert out.PatientSexNeutered == ""  # X/Z, Type 2C: emptied
    assert out.PatientSpeciesDescription == "Feline" and out.PatientBreedDescription == "Siamese"
    assert "ResponsiblePersonRole" not in out  # Type 1C: only while Responsible Person has a value
    _assert_no_phi(Path(out.filename), {"Margaret", "Happy Paws"})
    assert _dciodvfy_errors(Path(out.filename)) <= _dciodvfy_errors(src)


# ---------------------------------------------------------------- refusals and errors


def test_burned_in_projection_images_are_refused_unless_allowed(tmp_path):
    cr = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    cr.Modality = "CR"
    flagged = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    flagged.BurnedInAnnotation = "YES"
    clean_ct = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    clean_ct.BurnedInAnnotation = "NO"
    folder = _folder(tmp_path, cr, flagged, clean_ct)
    refused = deidentify_tree(folder, tmp_path / "o1", DeidOptions(), context=DeidContext(KEY))
    assert len(refused.written) == 1 and len(refused.refused) == 2
    assert {p.name for p, _ in refused.refused} == {"0.dcm", "1.dcm"}
    assert any("projection" in reason for _, reason in refused.refused)
    allowed = deidentify_tree(
        folder, tmp_path / "o2", DeidOptions(allow_burned_in=True), context=DeidContext(KEY)
    )
    assert len(allowed.written) == 3 and len(allowed.warnings) == 2
    assert all(("0.dcm" in w or "1.dcm" in w) for w in allowed.warnings)


def test_unreadable_files_are_reported_and_the_rest_is_written(tmp_path):
    good = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    folder = _folder(tmp_path, good)
    (folder / "notes.txt").write_text("Doe Johnathan MRN8675309")
    (folder / "half.dcm").write_bytes((folder / "0.dcm").read_bytes()[:700])
    (folder / "README").write_text("not DICOM either")
    report = deidentify_tree(folder, tmp_path / "out", DeidOptions(), context=DeidContext(KEY))
    assert len(report.written) == 1
    assert {p.name for p, _ in report.errors} == {"half.dcm"}
    assert {p.name for p, _ in report.skipped} == {"notes.txt", "README"}  # not DICOM: skipped, as scan does
    assert all(reason and "Error" not in reason for _, reason in report.errors + report.skipped)


def test_progress_and_cancel(tmp_path):
    folder = _folder(tmp_path, _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315"))
    calls = []
    deidentify_tree(folder, tmp_path / "o1", DeidOptions(), progress=lambda *a: calls.append(a))
    assert calls[0][:2] == (0, 1) and calls[-1][:2] == (1, 1)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        deidentify_tree(folder, tmp_path / "o2", DeidOptions(), cancel=token)
    assert not (tmp_path / "o2").exists()


def test_dataset_api_refuses_burned_in():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.BurnedInAnnotation = "YES"
    with pytest.raises(BurnedInAnnotationError):
        deidentify_dataset(ds, DeidOptions(), DeidContext(KEY))


# ---------------------------------------------------------------- CLI


def test_cli_summary_key_file_and_fatal_paths(tmp_path, capsys):
    ds = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    folder = _folder(tmp_path, ds)
    key_file = tmp_path / "key.txt"
    key_file.write_text("secret\n")
    assert main(["deid", str(folder), str(tmp_path / "o1"), "--key", str(key_file)]) == 0
    assert "1 written, 0 refused, 0 errors" in capsys.readouterr().out
    assert main(["deid", str(folder), str(tmp_path / "o2"), "--key", "secret"]) == 0
    names = [sorted(p.name for p in (tmp_path / o).rglob("*.dcm")) for o in ("o1", "o2")]
    assert names[0] == names[1]
    assert main(["deid", str(folder), str(folder / "out")]) == 2
    assert "must not be" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "deid",
                str(folder),
                str(tmp_path / "o3"),
                "--retain-long-full-dates",
                "--retain-long-modified-dates",
            ]
        )


def test_cli_over_the_pydicom_test_corpus(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    shutil.copytree(Path(get_testdata_file("CT_small.dcm")).parent, corpus)
    files = [p for p in corpus.rglob("*") if p.is_file()]
    report = deidentify_tree(corpus, tmp_path / "out", DeidOptions(), context=DeidContext(KEY))
    handled = {p for p, _ in report.written + report.refused + report.errors + report.skipped}
    assert handled >= {p.resolve() for p in files}  # every file is accounted for (+ missing DICOMDIR refs)
    assert len(report.written) > 50
    for _, dst in report.written:
        out = pydicom.dcmread(dst)
        assert out.PatientIdentityRemoved == "YES"
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert main(["deid", str(corpus), str(tmp_path / "cli"), "--key", "k"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "written" in captured.out


def test_zip_input_is_read_as_scan_reads_it(tmp_path, capsys):
    """A zip is de-identified member by member, in place; a member named outside the archive is refused."""
    first = _phi_dataset("CT_small.dcm", "A", generate_uid(), generate_uid(), "20230315")
    second = _phi_dataset("MR_small.dcm", "B", generate_uid(), generate_uid(), "20230316")
    folder = _folder(tmp_path, first, second)
    archive = tmp_path / "drop" / "studies.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(folder / "0.dcm", "PAT1/IM0001")
        bundle.write(folder / "1.dcm", "PAT2/IM0001")
        bundle.writestr("../escape.dcm", (folder / "0.dcm").read_bytes())
        bundle.writestr("notes.txt", "Doe Johnathan")
    report = deidentify_tree(archive, tmp_path / "out", DeidOptions(), context=DeidContext(KEY))
    assert sorted(str(src) for src, _ in report.written) == [f"{archive}::PAT1/IM0001", f"{archive}::PAT2/IM0001"]
    assert [str(src) for src, _ in report.errors] == [f"{archive}::../escape.dcm"]
    assert "outside the archive" in report.errors[0][1]
    assert [str(src) for src, _ in report.skipped] == [f"{archive}::notes.txt"]
    for (_, dst), original in zip(sorted(report.written), (first, second), strict=True):
        _assert_no_phi(dst, _phi_strings(original))
        assert pydicom.dcmread(dst).PatientIdentityRemoved == "YES"
    assert not (tmp_path / "escape.dcm").exists() and not (tmp_path / "out" / ".." / "escape.dcm").exists()
    # the same through the CLI, with the zip inside a folder
    assert main(["deid", str(archive.parent), str(tmp_path / "cli"), "--key", "k"]) == 0
    captured = capsys.readouterr()
    assert "2 written, 0 refused, 1 errors, 1 skipped" in captured.out
    assert "escape.dcm" in captured.err and "Traceback" not in captured.err


# ---------------------------------------------------------------- dciodvfy


def _dciodvfy_errors(path: Path) -> set[str]:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).splitlines()
    assert any(line.endswith("Image") for line in lines), lines  # it recognised the IOD, so it did check
    return {line.strip() for line in lines if line.startswith("Error")}


@pytest.mark.parametrize("base", ["CT_small.dcm", "MR_small.dcm"])
@pytest.mark.parametrize("options", [{}, {"retain_long_modified_dates": True, "clean_descriptors": True}])
def test_dciodvfy_reports_no_new_errors(tmp_path, base, options):
    ds = _phi_dataset(base, "A", generate_uid(), generate_uid(), "20230315")
    del ds[0x00091010]
    ds.remove_private_tags()
    src = _write(ds, tmp_path / "in", "in.dcm")
    (out,) = _run(src, tmp_path / "out", **options)
    assert _dciodvfy_errors(Path(out.filename)) <= _dciodvfy_errors(src)


# ---------------------------------------------------------------- phantom studies


def test_phantom_studies_leave_no_phi_bytes(tmp_path):
    """Two phantom patients written by training.phantoms (the `sightline samples` writer): no PHI survives."""
    import numpy as np

    from training.phantoms import dicom_writer as writer
    from training.phantoms import identity, shapes
    geometry = shapes.centred_axial_geometry((3, 16, 16), (1.0, 1.0, 2.0))
    pixels = np.arange(3 * 16 * 16, dtype=np.uint16).reshape(3, 16, 16)
    spec = writer.SeriesSpec("MR", "1.2.840.10008.5.1.4.1.1.4", 1, "T2 AX", "BRAIN", "Phantom MR")
    studies = [identity.make_study_context("brain", seed, "MR BRAIN") for seed in (1, 2)]
    for study in studies:
        writer.write_series(pixels, geometry, study, spec, tmp_path / "in" / study.patient_id)
    report = deidentify_tree(tmp_path / "in", tmp_path / "out", DeidOptions(), context=DeidContext(KEY))
    assert len(report.written) == 6 and not report.errors and not report.refused
    assert len({pydicom.dcmread(dst).PatientID for _, dst in report.written}) == 2
    for study in studies:
        phi = {study.patient_id, study.birth_date, study.study_date, study.accession, study.institution}
        phi |= {study.institution_address, study.station_name, study.study_uid, study.frame_of_reference_uid}
        phi |= {
            part
            for part in (study.patient_name + "^" + study.referring_physician).split("^")
            if len(part) > 2
        }
        phi |= {study.uid("series", 1)} | {study.uid("series", 1, "instance", i) for i in (1, 2, 3)}
        for _, dst in report.written:
            _assert_no_phi(dst, phi)
            assert pydicom.dcmread(dst).StudyID == ""  # too short to search for safely in raw bytes
