"""Acceptance: `sightline deid` over the sample studies (the same writers `sightline samples` uses, at small
sizes): no PHI string survives in any output byte, dciodvfy reports no new errors, UIDs stay consistent."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path

import pydicom
import pytest

from app.cli import main
from training.phantoms.brain_mri import make_brain_mri
from training.phantoms.cardiac_ct import make_cardiac_ct
from training.phantoms.chest_xray import make_chest_xray
from training.phantoms.export import write_brain_mri_study, write_cardiac_ct_study, write_chest_xray_study
from training.phantoms.identity import make_study_context
from training.phantoms.samples import CHEST_XRAY_SEED


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("samples")
    write_brain_mri_study(make_brain_mri(12, shape=(12, 24, 20)), root / "brain_mri")
    write_cardiac_ct_study(make_cardiac_ct(13, size=96, slices=6), root / "cardiac_ct")
    write_chest_xray_study(make_chest_xray(CHEST_XRAY_SEED, size=128, nodules=2), root / "chest_xray")
    studies = [
        make_study_context("brain_mri", 12, "MR BRAIN TUMOUR PROTOCOL"),
        make_study_context("cardiac_ct", 13, "CT CARDIAC CALCIUM SCORE"),
        make_study_context("chest_xray", CHEST_XRAY_SEED, "XR CHEST PA"),
    ]
    return root, studies


def _phi_strings(study) -> set[str]:
    names = {part for part in f"{study.patient_name}^{study.referring_physician}".split("^") if len(part) > 2}
    return names | {
        study.patient_id, study.birth_date, study.study_date, study.accession, study.institution,
        study.institution_address, study.station_name, study.study_uid, study.frame_of_reference_uid,
    }


def test_sample_studies_keep_no_phi_and_consistent_uids(samples, tmp_path: Path) -> None:
    root, studies = samples
    out = tmp_path / "deid"
    assert main(["deid", str(root), str(out), "--key", "acceptance-test-key"]) == 0
    written = sorted(out.rglob("*.dcm"))
    originals = sorted(p for p in root.rglob("*.dcm"))
    assert len(written) == len(originals)
    original_uids = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in originals}
    phi = set().union(*(_phi_strings(s) for s in studies)) | original_uids
    for path in written:
        data = path.read_bytes()
        leaked = [text for text in phi if text.encode() in data]
        assert not leaked, f"{path}: {leaked}"
    by_study: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in written:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.PatientIdentityRemoved == "YES"
        by_study[ds.StudyInstanceUID].add((ds.PatientID, ds.FrameOfReferenceUID if "FrameOfReferenceUID" in ds else ""))
    assert len(by_study) == 3  # one new Study UID per original study, shared by all its series
    # ... and within a study every series keeps one patient and one frame of reference (the 4 brain sequences)
    assert all(len(identities) == 1 for identities in by_study.values())


def test_deid_adds_no_dciodvfy_errors(samples, tmp_path: Path) -> None:
    root, _ = samples
    out = tmp_path / "deid"
    assert main(["deid", str(root), str(out), "--key", "k"]) == 0

    def errors(path: Path) -> set[str]:
        result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
        return {line.split(" - ", 1)[-1] for line in (result.stdout + result.stderr).splitlines() if "Error" in line}

    for kind in ("brain_mri", "cardiac_ct", "chest_xray"):
        source = next((root / kind).rglob("*.dcm"))
        modality = pydicom.dcmread(source, stop_before_pixels=True).Modality
        output = next(p for p in out.rglob("*.dcm") if pydicom.dcmread(p, stop_before_pixels=True).Modality == modality)
        assert errors(output) - errors(source) == set(), kind
