"""The AI's limits, through the shared runtime: suitability (header), plausibility (outputs), domain (features).

Synthetic volumes carry the header facts the loader copies into Volume.meta; the real public files check
that the loader does copy them (a veterinary radiograph names its species)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from engine.ai import audit
from engine.ai.domain import (
    Domain,
    DomainDataError,
    knn_distances,
    load_reference,
    save_reference,
    threshold_at_retention,
)
from engine.ai.manifest import ManifestError, parse_manifest
from engine.ai.plausibility import Plausibility, apply_bounds
from engine.ai.registry import discover
from engine.ai.result import AnalysisResult, Finding, Measurement
from engine.ai.result_json import load_result, save_result
from engine.ai.runner import run_plugin
from engine.ai.sessions import SessionCache
from engine.ai.suitability import InputRefused, Suitability, age_years, assess
from engine.geometry import Geometry
from engine.volume import SourceIds, Volume
from tests.ai.conftest import plugin_manifest

CHEST = Suitability(body_parts=["CHEST"], region_name="chest radiograph", views=["PA", "AP"], warn_views=["AP"],
                    pixel_spacing_mm=(0.1, 0.5), spacing="sizes_withheld", min_age_years=18,
                    refused_image_types=["LOCALIZER"])
CALCIUM = Suitability(body_parts=["HEART"], slice_thickness_mm=(2.5, 3.0), contrast="none")


def radiograph(spacing: float = 0.2, **meta) -> Volume:
    geometry = Geometry(shape=(64, 64), spacing=(spacing, spacing, 1.0))
    return Volume(np.zeros((64, 64), np.uint16), geometry, "DX", SourceIds("1.2", "1.2.3", ""),
                  {"description": "Chest", **meta})


@pytest.mark.parametrize(("meta", "reason"), [
    ({"BodyPartExamined": "EXTREMITY"}, "not a chest radiograph: BodyPartExamined EXTREMITY"),
    ({"AnatomicRegion": "Knee"}, "not a chest radiograph: AnatomicRegion Knee"),
    ({"ViewPosition": "LL"}, "view LL is not one of PA, AP"),
    ({"PatientSpeciesDescription": "Feline"}, "veterinary study: PatientSpeciesDescription Feline"),
    ({"PatientSpeciesCode": "Canis lupus familiaris"}, "veterinary study: PatientSpeciesCode Canis"),
    ({"PatientBreedDescription": "Beagle"}, "veterinary study: PatientBreedDescription Beagle"),
    ({"PatientAge": "006Y"}, "patient age 006Y is below 18 years"),
    ({"ImageType": "ORIGINAL\\PRIMARY\\LOCALIZER"}, "ImageType LOCALIZER is not a diagnostic image"),
])
def test_each_hard_check_refuses_with_the_series_and_the_reason(meta: dict, reason: str) -> None:
    assessment = assess(CHEST, {"radiograph": radiograph(**meta)})
    (refusal,) = assessment.refusals
    assert refusal.startswith("radiograph series 'Chest' (1.2.3): ") and reason in refusal


def test_a_silent_or_matching_header_passes() -> None:
    assert assess(CHEST, {"radiograph": radiograph()}).refusals == []
    matching = radiograph(BodyPartExamined="chest", ViewPosition="PA", PatientAge="045Y",
                          PatientSpeciesDescription="Homo sapiens", ImageType="ORIGINAL\\PRIMARY")
    assessment = assess(CHEST, {"radiograph": matching})
    assert (assessment.refusals, assessment.warnings, assessment.sizes_known) == ([], [], True)


def test_a_soft_view_runs_with_a_warning() -> None:
    assessment = assess(CHEST, {"radiograph": radiograph(ViewPosition="AP")})
    assert assessment.refusals == []
    assert assessment.warnings == ["radiograph series 'Chest' (1.2.3): AP view: the model was validated on PA views"]


def test_unknown_spacing_withholds_sizes_or_refuses_by_policy() -> None:
    assumed = radiograph(spacing=1.0, pixel_spacing_source="assumed")
    assert not assumed.spacing_known and radiograph().spacing_known
    withheld = assess(CHEST, {"radiograph": assumed})
    assert withheld.refusals == [] and withheld.sizes_known is False
    assert "no size in mm is given" in withheld.warnings[0]
    refused = assess(Suitability(spacing="required"), {"ct": assumed})
    assert refused.sizes_known and "pixel spacing unknown" in refused.refusals[0]


def test_implausible_spacing_thickness_and_contrast_refuse() -> None:
    assert "pixel spacing 2 mm lies outside the validated 0.1-0.5 mm" in assess(
        CHEST, {"radiograph": radiograph(spacing=2.0)}).refusals[0]
    ct = Volume(np.zeros((4, 8, 8), np.int16), Geometry((4, 8, 8), (0.5, 0.5, 1.0)), "CT",
                meta={"SliceThickness": "1.0", "ContrastBolusAgent": "Iohexol", "BodyPartExamined": "HEART"})
    reasons = assess(CALCIUM, {"ct": ct}).refusals
    assert any("slice thickness 1 mm lies outside the validated 2.5-3 mm" in r for r in reasons)
    assert any("contrast-enhanced (ContrastBolusAgent Iohexol)" in r for r in reasons)


def test_patient_age_in_every_unit() -> None:
    assert age_years("045Y") == 45 and age_years("006M") == 0.5 and age_years("010D") < 0.03
    assert age_years("") is None and age_years("forty") is None


def test_manifest_rejects_inconsistent_rules() -> None:
    base = plugin_manifest("rules", "a" * 64)
    with pytest.raises(ManifestError, match="warn_views"):
        parse_manifest(base + '\n[suitability]\nviews = ["PA"]\nwarn_views = ["AP"]\n', "m.toml")
    with pytest.raises(ManifestError, match="finding_size_mm"):
        parse_manifest(base + "\n[plausibility]\nfinding_size_mm = [30.0, 3.0]\n", "m.toml")
    with pytest.raises(ManifestError, match="reference"):
        parse_manifest(base + f'\n[domain]\nreference = "../x.npz"\nsha256 = "{"b" * 64}"\nthreshold = 0.1\n',
                       "m.toml")


def finding(size_mm: float | None, probability: float = 0.95) -> Finding:
    return Finding("nodule", probability, "high", (1.0, 2.0), (0.0, 0.0, 0.0), size_mm=size_mm,
                   description=f"nodule {size_mm} mm")


def test_sizes_outside_the_bounds_are_excluded_with_their_reason() -> None:
    result = AnalysisResult(findings=[finding(2.0), finding(12.0), finding(47.0), finding(None)])
    flags = apply_bounds(Plausibility(finding_size_mm=(3.0, 30.0)), result)
    assert flags == [] and [f.size_mm for f in result.findings] == [12.0, None]
    assert [(e.size_mm, e.reason) for e in result.excluded] == [
        (2.0, "size 2 mm outside the plausible 3-30 mm"), (47.0, "size 47 mm outside the plausible 3-30 mm")]


def test_too_many_findings_or_an_implausible_measurement_flag_the_result() -> None:
    result = AnalysisResult(findings=[finding(5.0)] * 4, measurements=[Measurement("whole tumour volume", 900, "mL")])
    flags = apply_bounds(Plausibility(max_findings=3, measurements={"whole tumour volume": (0.0, 500.0)}), result)
    assert flags == ["implausible: 4 findings (at most 3 expected)",
                     "implausible: whole tumour volume 900 mL outside 0-500 mL"]
    assert len(result.findings) == 4  # flagged, not dropped


def test_knn_distance_and_validation_threshold() -> None:
    reference = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0]], np.float32)
    distances = knn_distances(np.array([[1, 0, 0], [0, 0, 1]], np.float32), reference, k=1)
    assert distances == pytest.approx([0.0, 1.0], abs=1e-6)
    scores = np.arange(1, 101) / 100.0
    assert threshold_at_retention(scores, 0.95) == pytest.approx(0.95)
    assert np.mean(scores <= threshold_at_retention(scores, 0.95)) == pytest.approx(0.95)


def test_a_tampered_reference_is_refused(tmp_path: Path) -> None:
    sha256 = save_reference(tmp_path / "domain.npz", np.eye(3, dtype=np.float32))
    assert load_reference(tmp_path / "domain.npz", sha256).shape == (3, 3)
    (tmp_path / "domain.npz").write_bytes((tmp_path / "domain.npz").read_bytes() + b"x")
    with pytest.raises(DomainDataError, match="altered"):
        load_reference(tmp_path / "domain.npz", sha256)
    with pytest.raises(ValueError, match="threshold"):
        Domain("domain.npz", sha256, threshold=float("nan"))


LOGIC = '''
import numpy as np

from engine.ai.result import AnalysisResult, Finding, Measurement


def run(context):
    volume = context.inputs["CT"]
    context.session()
    features = np.asarray(volume.meta["features"], dtype=np.float32)
    sizes = [4.0, 12.0, 45.0]
    findings = [Finding.at(volume.geometry, (1.0, 2.0, 3.0), "lesion", p, "needs_review", size_mm=s,
                           description="lesion")
                for p, s in zip((0.97, 0.8, 0.99), sizes)]
    return AnalysisResult(findings=findings, measurements=[Measurement("lesion volume", 50.0, "mm3")],
                          domain_features=features, review_reasons=list(volume.meta.get("review", [])))
'''
RULES = """
[suitability]
body_parts = ["HEART"]
region_name = "cardiac CT"
spacing = "sizes_withheld"

[plausibility]
finding_size_mm = [3.0, 30.0]
"""


@pytest.fixture
def limited_plugin(make_plugin):
    folder = make_plugin("limited", logic=LOGIC, extra=RULES)
    sha256 = save_reference(folder / "domain.npz", np.array([[1, 0], [0.95, 0.05], [0.9, 0.1]], np.float32))
    with open(folder / "manifest.toml", "a") as manifest:
        manifest.write(f'\n[domain]\nreference = "domain.npz"\nsha256 = "{sha256}"\nthreshold = 0.02\nk = 2\n')
    return discover([folder.parent], entry_points=False)


def ct(features: list[float], **meta) -> Volume:
    geometry = Geometry((4, 6, 6), (0.7, 0.7, 3.0))
    return Volume(np.zeros((4, 6, 6), np.int16), geometry, "CT", SourceIds("9.1", "9.1.2", "9.1.3"),
                  {"features": features, "description": "Ca score", **meta})


def run(registry, volume: Volume, tmp_path: Path) -> AnalysisResult:
    return run_plugin("limited", {"CT": volume}, registry=registry, sessions=SessionCache(intra_op_threads=1),
                      audit_log=tmp_path / "audit.jsonl")


def test_in_domain_result_keeps_its_tiers_and_drops_implausible_sizes(limited_plugin, tmp_path: Path) -> None:
    result = run(limited_plugin, ct([1.0, 0.02]), tmp_path)
    assert result.domain.in_domain and result.domain.score <= 0.02
    assert [(f.size_mm, f.tier) for f in result.findings] == [(4.0, "high"), (12.0, "medium")]
    assert [e.reason for e in result.excluded] == ["size 45 mm outside the plausible 3-30 mm"]
    assert result.warnings == []
    back = load_result(save_result(result, tmp_path / "out")["result"])
    assert back.domain == result.domain and back.excluded == result.excluded
    document = json.loads((tmp_path / "out" / "result.json").read_text())
    assert document["domain"]["in_domain"] is True


def test_out_of_domain_caps_every_finding_and_says_why(limited_plugin, tmp_path: Path) -> None:
    result = run(limited_plugin, ct([0.0, 1.0]), tmp_path)
    assert not result.domain.in_domain and result.domain.score > result.domain.threshold
    assert {f.tier for f in result.findings} == {"needs_review"}
    assert result.warnings == [f"outside the model's validated domain (score {result.domain.score:.3f}, "
                               "threshold 0.020): every finding needs review"]


def test_a_plugin_review_reason_caps_every_finding_inside_the_domain(limited_plugin, tmp_path: Path) -> None:
    reason = "image noisier than the model was validated on"
    result = run(limited_plugin, ct([1.0, 0.02], review=[reason]), tmp_path)
    assert result.domain.in_domain
    assert [f.tier for f in result.findings] == ["needs_review", "needs_review"]
    assert result.warnings == [reason]
    document = json.loads((save_result(result, tmp_path / "out")["result"]).read_text())
    assert reason in document["warnings"]


def test_a_refused_study_runs_nothing_and_is_audited(limited_plugin, tmp_path: Path) -> None:
    with pytest.raises(InputRefused, match=r"CT series 'Ca score' \(9.1.2\): not a cardiac CT: BodyPartExamined KNEE"):
        run(limited_plugin, ct([1.0, 0.0], BodyPartExamined="KNEE"), tmp_path)
    (entry,) = audit.read_entries(tmp_path / "audit.jsonl")
    assert entry["details"]["status"].startswith("refused: limited refuses the study")


def test_unknown_spacing_withholds_every_size(limited_plugin, tmp_path: Path) -> None:
    result = run(limited_plugin, ct([1.0, 0.0], pixel_spacing_source="assumed"), tmp_path)
    assert [f.size_mm for f in result.findings] == [None, None, None] and result.excluded == []
    assert result.measurements == []  # mm3 is a size too
    assert "no size in mm is given" in result.warnings[0]


def test_the_loader_copies_the_facts_the_checks_read() -> None:
    if importlib.util.find_spec("deid_data") is None:
        pytest.fail("deid-data is a dev dependency: `make` installs it")
    from engine.dicom.loader import load_series
    from engine.dicom.scanner import scan

    root = Path(importlib.util.find_spec("deid_data").submodule_search_locations[0])
    volume = load_series(scan(root / "data" / "animals" / "cat.dcm").series[0])
    assert volume.meta["PatientSpeciesDescription"] == "Feline" and volume.meta["BodyPartExamined"] == "CHEST"
    assert "veterinary study: PatientSpeciesDescription Feline" in assess(CHEST, {"r": volume}).refusals[0]
