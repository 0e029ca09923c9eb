"""coronary_calcium_ct: the shipped domain check (image-level features, hashed reference, threshold from
validation), its suitability rules and plausibility bounds (issue 14 §1-§3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.ai.domain import load_reference
from engine.ai.hashing import sha256_file
from engine.ai.plausibility import apply_bounds
from engine.ai.registry import discover
from engine.ai.result import AnalysisResult, Finding
from engine.ai.runner import run_plugin
from engine.ai.suitability import InputRefused, assess
from engine.dicom.loader import load_series
from engine.dicom.scanner import scan
from engine.volume import Volume
from plugins.coronary_calcium_ct.domain_features import blood_pool_fraction, body_mask, noise_hu
from training.calcium.domain import contrast_enhanced, sharper_kernel
from training.calcium.plugin_files import MAX_FINDINGS, SUITABILITY
from training.phantoms.cardiac_ct import make_cardiac_ct
from training.phantoms.samples import SAMPLE_STUDIES
from training.public_dicom import public_images

PLUGIN = "coronary_calcium_ct"
PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugins" / PLUGIN
OUTSIDE = "outside the model's validated domain"
HEADER_FACTS = ("BodyPartExamined", "AnatomicRegion", "SliceThickness", "ContrastBolusAgent", "PatientAge",
                "ImageType")


@pytest.fixture(scope="module")
def plugin():
    registry = discover([PLUGIN_DIR.parent], entry_points=False)
    return registry.get(PLUGIN)


@pytest.fixture(scope="module")
def registry(plugin):
    from engine.ai.registry import PluginRegistry

    return PluginRegistry({plugin.id: plugin})


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Volume:
    """The demo sample study (512 x 512, 3 mm, held-out seed), written as DICOM and read back."""
    folder = tmp_path_factory.mktemp("cardiac_sample")
    SAMPLE_STUDIES["cardiac_ct"](folder)
    series = [s for path in sorted(p for p in folder.iterdir() if p.is_dir()) for s in scan(path).series]
    return load_series(next(s for s in series if s.modality == "CT"))


def with_meta(volume: Volume, **meta) -> Volume:
    return Volume(volume.array, volume.geometry, volume.modality, volume.ids, {**volume.meta, **meta})


def test_shipped_reference_matches_the_manifest_and_the_threshold_metrics_json(plugin) -> None:
    domain = plugin.manifest.domain
    assert domain is not None, "manifest.toml has no [domain] table: run python -m training.calcium.domain"
    assert sha256_file(PLUGIN_DIR / domain.reference) == domain.sha256
    facts = json.loads((PLUGIN_DIR / "metrics.json").read_text(encoding="utf-8"))["domain"]
    assert domain.threshold == pytest.approx(facts["threshold"], abs=5e-7)
    assert facts["reference"]["sha256"] == domain.sha256
    assert load_reference(PLUGIN_DIR / domain.reference, domain.sha256).shape[0] == facts["reference"]["cases"]
    assert facts["test"]["flagged"] <= 0.05 and facts["validation"]["retained"] >= 0.95
    assert MAX_FINDINGS >= 2 * facts["plaques_per_phantom"]["validation_max"]


def test_manifest_carries_the_generated_suitability_and_plausibility(plugin) -> None:
    rules = plugin.manifest.suitability
    assert rules == SUITABILITY
    assert rules.body_parts == ["HEART", "CHEST", "THORAX", "CARDIAC", "CORONARY"]
    assert rules.region_name == "cardiac CT" and rules.spacing == "required" and rules.contrast == "none"
    assert tuple(rules.pixel_spacing_mm) == (0.2, 1.0) and tuple(rules.slice_thickness_mm) == (2.5, 3.0)
    assert rules.min_age_years == 18 and rules.refused_image_types == ["LOCALIZER"]
    assert plugin.manifest.plausibility.max_findings == MAX_FINDINGS


def test_sample_study_is_accepted_and_lies_inside_the_domain(plugin, registry, sample, tmp_path: Path) -> None:
    assert sample.meta.get("BodyPartExamined") == "HEART"
    assessment = assess(plugin.manifest.suitability, {"ct": sample})
    assert assessment.refusals == [] and assessment.warnings == []
    result = run_plugin(PLUGIN, {"ct": sample}, registry=registry, audit_log=tmp_path / "audit.jsonl")
    assert result.domain.in_domain, result.domain
    assert result.warnings == []
    assert result.findings and any(finding.tier != "needs_review" for finding in result.findings)


def test_contrast_or_thin_slices_are_refused_with_the_reason(registry, sample, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with pytest.raises(InputRefused, match="contrast-enhanced \\(ContrastBolusAgent IOPAMIDOL\\)"):
        run_plugin(PLUGIN, {"ct": with_meta(sample, ContrastBolusAgent="IOPAMIDOL")}, registry=registry, audit_log=log)
    with pytest.raises(InputRefused, match="slice thickness 1 mm lies outside the validated 2.5-3 mm"):
        run_plugin(PLUGIN, {"ct": with_meta(sample, SliceThickness="1.0")}, registry=registry, audit_log=log)
    with pytest.raises(InputRefused, match="not a cardiac CT: BodyPartExamined HEAD"):
        run_plugin(PLUGIN, {"ct": with_meta(sample, BodyPartExamined="HEAD")}, registry=registry, audit_log=log)


def test_a_real_public_ct_lies_outside_and_no_finding_is_high(registry, tmp_path: Path) -> None:
    image = next(im for im in public_images({"CT"}) if im.path.name == "explicit_VR-UN.dcm")  # real abdomen
    with pytest.raises(InputRefused, match="not a cardiac CT"):  # its header alone refuses it ...
        run_plugin(PLUGIN, {"ct": image.volume}, registry=registry, audit_log=tmp_path / "audit.jsonl")
    meta = {k: v for k, v in image.volume.meta.items() if k not in HEADER_FACTS}  # ... without it, the domain does
    volume = Volume(image.volume.array, image.volume.geometry, "CT", image.volume.ids, meta)
    result = run_plugin(PLUGIN, {"ct": volume}, registry=registry, audit_log=tmp_path / "audit.jsonl")
    assert result.domain.score > result.domain.threshold
    assert any(warning.startswith(OUTSIDE) for warning in result.warnings)
    assert all(finding.tier == "needs_review" for finding in result.findings)


def test_an_unlabelled_contrast_enhanced_phantom_lies_outside(registry, tmp_path: Path) -> None:
    case = make_cardiac_ct(640_001)
    hu = contrast_enhanced(case, np.random.default_rng(0))
    volume = Volume(np.rint(hu).astype(np.int16), case.geometry, "CT")  # no header says "contrast"
    result = run_plugin(PLUGIN, {"ct": volume}, registry=registry, audit_log=tmp_path / "audit.jsonl")
    assert result.domain.score > result.domain.threshold
    assert all(finding.tier == "needs_review" for finding in result.findings)


def test_features_see_noise_and_blood_pool_contrast() -> None:
    case = make_cardiac_ct(640_002, size=384)
    plain = case.hu.astype(np.float32)
    body = body_mask(plain)
    rng = np.random.default_rng(1)
    assert noise_hu(sharper_kernel(case, rng), body) > 2 * noise_hu(plain, body)
    assert blood_pool_fraction(contrast_enhanced(case, rng), body) > 0.2 > 0.05 > blood_pool_fraction(plain, body)


def test_too_many_findings_flag_the_result(plugin, sample) -> None:
    def flags(count: int) -> list[str]:
        finding = Finding.at(sample.geometry, (1.0, 1.0, 1.0), "LAD calcium", 0.95, "high", size_mm=3.0)
        return apply_bounds(plugin.manifest.plausibility, AnalysisResult(findings=[finding] * count))

    assert flags(MAX_FINDINGS) == []
    assert flags(MAX_FINDINGS + 1) == [f"implausible: {MAX_FINDINGS + 1} findings (at most {MAX_FINDINGS} expected)"]
