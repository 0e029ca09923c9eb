"""brain_tumor_mri: the shipped domain check (bottleneck features, hashed reference, threshold from validation),
its suitability rules and plausibility bounds (issue 14 §1-§3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from engine.ai.domain import load_reference
from engine.ai.hashing import sha256_file
from engine.ai.plausibility import apply_bounds
from engine.ai.registry import PluginRegistry
from engine.ai.result import AnalysisResult, Measurement
from engine.ai.roles import SeriesCandidate, match_roles
from engine.ai.runner import run_plugin
from engine.ai.suitability import InputRefused, assess
from engine.dicom.loader import load_series
from engine.dicom.scanner import scan
from engine.volume import Volume
from plugins.brain_tumor_mri.domain_features import FEATURES_OUTPUT, LOG_FLOOR, PooledFeatures
from plugins.brain_tumor_mri.preprocessing import SEQUENCES
from tests.brain.conftest import PLUGIN_DIR, volumes_of
from training.brain.domain import add_feature_output, logits_identical
from training.brain.plugin_files import SUITABILITY
from training.brain.site_shift import SiteShift
from training.phantoms.samples import SAMPLE_STUDIES
from training.public_dicom import public_images

OUTSIDE = "outside the model's validated domain"


def metrics() -> dict:
    return json.loads((PLUGIN_DIR / "metrics.json").read_text(encoding="utf-8"))


def strip_features(source: Path, target: Path) -> None:
    """The shipped model without the features output (what the pipeline exported before adding it)."""
    model = onnx.load(str(source))
    graph = model.graph
    keep = [node for node in graph.node if not node.name.startswith("/features/")]
    del graph.node[:]
    graph.node.extend(keep)
    outputs = [output for output in graph.output if output.name != FEATURES_OUTPUT]
    del graph.output[:]
    graph.output.extend(outputs)
    onnx.save(model, str(target))


def test_shipped_reference_matches_the_manifest_and_the_threshold_metrics_json(plugin) -> None:
    domain = plugin.manifest.domain
    assert domain is not None, "manifest.toml has no [domain] table: run python -m training.brain.domain"
    assert sha256_file(PLUGIN_DIR / domain.reference) == domain.sha256
    facts = metrics()["domain"]
    assert domain.threshold == pytest.approx(facts["threshold"], abs=5e-7)
    assert facts["reference"]["sha256"] == domain.sha256
    reference = load_reference(PLUGIN_DIR / domain.reference, domain.sha256)
    assert reference.shape == (facts["reference"]["cases"], 64)
    assert facts["test"]["flagged"] <= 0.05 and facts["validation"]["retained"] >= 0.95


def test_manifest_carries_the_generated_suitability_and_plausibility(plugin) -> None:
    rules, bounds = plugin.manifest.suitability, plugin.manifest.plausibility
    assert rules == SUITABILITY and rules.body_parts == ["BRAIN", "HEAD"]
    assert rules.region_name == "brain MRI" and rules.spacing == "required" and rules.contrast == "any"
    assert tuple(rules.pixel_spacing_mm) == (0.3, 3.0) and tuple(rules.slice_thickness_mm) == (0.5, 6.0)
    assert rules.min_age_years == 18 and rules.refused_image_types == ["LOCALIZER"]
    assert {name: tuple(v) for name, v in bounds.measurements.items()} == {"whole tumour volume": (0.0, 500.0)}


def test_the_features_output_leaves_the_logits_bit_identical(plugin, tmp_path: Path) -> None:
    shipped = PLUGIN_DIR / "model.onnx"
    plain = tmp_path / "plain.onnx"
    strip_features(shipped, plain)
    assert FEATURES_OUTPUT not in [o.name for o in onnx.load(str(plain)).graph.output]
    assert logits_identical(plain, shipped)
    readded = tmp_path / "readded.onnx"
    shutil.copyfile(plain, readded)
    assert add_feature_output(readded) and not add_feature_output(readded)  # second call: already there
    assert logits_identical(plain, readded)
    altered = onnx.load(str(plain))  # the comparison can fail: one changed weight changes the logits
    weight = next(init for init in altered.graph.initializer if init.name.endswith("weight") or init.dims)
    values = numpy_helper.to_array(weight).copy()
    values.flat[0] += 0.5
    weight.CopyFrom(numpy_helper.from_array(values, weight.name))
    onnx.save(altered, str(tmp_path / "altered.onnx"))
    assert not logits_identical(plain, tmp_path / "altered.onnx")


def test_pooling_weights_tiles_by_their_head_fraction() -> None:
    pooled = PooledFeatures()
    tiles = np.zeros((3, 4, 4, 4, 4), dtype=np.float32)
    tiles[0] = 1.0  # all head
    tiles[1, 0, :2] = 1.0  # half head
    pooled.add(tiles, np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]))  # the air tile counts for nothing
    assert pooled.vector() == pytest.approx(np.log(np.array([2 / 3, 1 / 3]) + LOG_FLOOR))
    assert PooledFeatures().vector() is None


@pytest.fixture(scope="module")
def sample_volumes(tmp_path_factory) -> dict[str, Volume]:
    """The demo sample study (1 mm, held-out seed), written as DICOM and read back like a user's study."""
    folder = tmp_path_factory.mktemp("brain_sample")
    SAMPLE_STUDIES["brain_mri"](folder)
    series = [s for path in sorted(p for p in folder.iterdir() if p.is_dir()) for s in scan(path).series]
    return {s.description: load_series(s) for s in series}


def test_sample_study_is_accepted_and_lies_inside_the_domain(plugin, sample_volumes, tmp_path: Path) -> None:
    candidates = [SeriesCandidate(v.ids.series_uid, name, "MR") for name, v in sample_volumes.items()]
    match = match_roles(plugin.manifest.inputs, candidates)
    by_uid = {v.ids.series_uid: v for v in sample_volumes.values()}
    inputs = {role: by_uid[uid] for role, uid in match.assignment.items()}
    assessment = assess(plugin.manifest.suitability, inputs)
    assert assessment.refusals == [] and assessment.warnings == []
    result = run_plugin(plugin.id, inputs, registry=PluginRegistry({plugin.id: plugin}),
                        audit_log=tmp_path / "audit.jsonl")
    assert result.domain.score is not None and result.domain.in_domain, result.domain
    assert result.warnings == []
    assert result.findings and result.findings[0].tier != "needs_review"  # calibrated tiers are back


def test_a_real_public_mr_lies_outside_and_no_finding_is_high(plugin, tmp_path: Path) -> None:
    image = next(im for im in public_images({"MR"}) if im.path.name == "emri_small.dcm")  # real head MR, 10 slices
    registry = PluginRegistry({plugin.id: plugin})
    inputs = {role: image.volume for role in SEQUENCES}  # one series, not a four-sequence study: all roles
    with pytest.raises(InputRefused, match="pixel spacing unknown"):  # its header has no pixel spacing ...
        run_plugin(plugin.id, inputs, registry=registry, audit_log=tmp_path / "audit.jsonl")
    meta = {k: v for k, v in image.volume.meta.items() if k not in ("pixel_spacing_source", "warnings")}
    volume = Volume(image.volume.array, image.volume.geometry, "MR", image.volume.ids, meta)  # ... say 1 mm:
    inputs = {role: volume for role in SEQUENCES}  # the image-level domain check decides
    result = run_plugin(plugin.id, inputs, registry=registry, audit_log=tmp_path / "audit.jsonl")
    assert result.domain.score > result.domain.threshold
    assert any(warning.startswith(OUTSIDE) for warning in result.warnings)
    assert all(finding.tier == "needs_review" for finding in result.findings)


def test_a_scan_noisier_than_validated_shows_every_finding_as_needs_review(plugin, small_case,
                                                                          tmp_path: Path) -> None:
    limit = plugin.manifest.preprocessing["max_air_level"]
    gate = metrics()["noise_gate"]
    assert limit == pytest.approx(gate["limit"], abs=5e-7) == pytest.approx(gate["margin"] * gate["validation_max"])
    assert next(row for row in gate["sets"] if row["name"] == "test")["flagged_cases"] == 0
    noisy = SiteShift(gamma={}, bias_strength=0.6, noise_sigma=0.10).apply(small_case.sequences, 7)
    volumes = {name: Volume(noisy[name], v.geometry, "MR", v.ids) for name, v in volumes_of(small_case).items()}
    registry = PluginRegistry({plugin.id: plugin})
    result = run_plugin(plugin.id, volumes, registry=registry, audit_log=tmp_path / "audit.jsonl")
    assert result.findings and all(finding.tier == "needs_review" for finding in result.findings)
    assert any(w.startswith("image noisier than the model was validated on") for w in result.warnings)
    clean = run_plugin(plugin.id, volumes_of(small_case), registry=registry, audit_log=tmp_path / "audit.jsonl")
    assert not any("noisier" in warning for warning in clean.warnings)


def test_a_localizer_with_thick_slices_of_another_region_is_refused(plugin, small_case, tmp_path: Path) -> None:
    volumes = volumes_of(small_case)
    t1 = volumes["T1"]
    meta = {"ImageType": "ORIGINAL\\PRIMARY\\LOCALIZER", "SliceThickness": "10", "BodyPartExamined": "CHEST",
            "description": "scout"}
    volumes["T1"] = Volume(t1.array, t1.geometry, "MR", t1.ids, meta)
    with pytest.raises(InputRefused) as refused:
        run_plugin(plugin.id, volumes, registry=PluginRegistry({plugin.id: plugin}), audit_log=tmp_path / "a.jsonl")
    reasons = " | ".join(refused.value.reasons)
    assert "T1 series 'scout'" in reasons and "not a brain MRI: BodyPartExamined CHEST" in reasons
    assert "ImageType LOCALIZER" in reasons and "slice thickness 10 mm lies outside the validated 0.5-6 mm" in reasons


def test_whole_tumour_volume_above_the_bound_flags_the_result(plugin) -> None:
    def flags(millilitres: float) -> list[str]:
        result = AnalysisResult(measurements=[Measurement("whole tumour volume", millilitres, "mL", region="WT")])
        return apply_bounds(plugin.manifest.plausibility, result)

    assert flags(120.0) == []
    assert flags(650.0) == ["implausible: whole tumour volume 650 mL outside 0-500 mL"]
