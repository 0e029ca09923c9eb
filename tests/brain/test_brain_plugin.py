"""The shipped brain_tumor_mri plugin on a small phantom, through the runtime (run_plugin)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ai.registry import PluginRegistry
from engine.ai.roles import SeriesCandidate, match_roles
from engine.ai.runner import PluginError, run_plugin
from engine.geometry import Geometry
from engine.volume import Volume
from plugins.brain_tumor_mri.preprocessing import regions_from_labels, resample
from tests.brain.conftest import volumes_of
from training.brain.metrics import dice


@pytest.fixture(scope="module")
def result(plugin, small_case, tmp_path_factory):
    registry = PluginRegistry({plugin.id: plugin})
    log = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    return run_plugin("brain_tumor_mri", volumes_of(small_case), registry=registry, audit_log=log)


def test_roles_match_the_sample_series_and_common_vendor_names(plugin) -> None:
    for names in (["T1", "T1c", "T2", "FLAIR"], ["AX T1 SE", "AX T1 POST GD", "t2_tse_tra", "t2_tirm_tra_dark-fluid"],
                  ["t1n", "t1c", "t2w", "t2f"]):
        series = [SeriesCandidate(f"uid{i}", name, "MR") for i, name in enumerate(names)]
        series.append(SeriesCandidate("dwi", "DWI b1000", "MR"))
        match = match_roles(plugin.manifest.inputs, series)
        assert match.complete
        assert [match.assignment[role] for role in ("T1", "T1c", "T2", "FLAIR")] == ["uid0", "uid1", "uid2", "uid3"]


def test_user_override_wins(plugin) -> None:
    series = [SeriesCandidate(f"uid{i}", name, "MR") for i, name in enumerate(["T1", "T1c", "T2", "FLAIR", "T2 b"])]
    match = match_roles(plugin.manifest.inputs, series, overrides={"T2": "uid4"})
    assert match.assignment["T2"] == "uid4" and match.complete


def test_manifest_declares_the_brats_labels_with_snomed_codes(plugin) -> None:
    manifest = plugin.manifest
    assert manifest.clinical_use is False
    assert [(label.value, label.code.value) for label in manifest.labels] == [
        (1, "6574001"), (2, "79654002"), (3, "108369006")]
    assert [role.role for role in manifest.inputs] == ["T1", "T1c", "T2", "FLAIR"]


def test_result_has_labels_regions_heatmap_and_findings(plugin, result, small_case) -> None:
    labels = result.label_map
    assert labels.geometry.same_grid(small_case.geometry)
    assert set(np.unique(labels.array)) <= {0, 1, 2, 3}
    assert [label.value for label in labels.labels] == [1, 2, 3]
    assert [(region.name.split(" (")[1][:2], region.values) for region in result.label_regions] == [
        ("WT", (1, 2, 3)), ("TC", (1, 3)), ("ET", (3,))]
    assert result.warnings == [] and result.domain.in_domain  # a phantom: inside the validated domain
    calibration = plugin.manifest.calibration  # calibrated tiers, not capped to "needs review"
    assert [f.tier for f in result.findings] == [calibration.tier(f.probability) for f in result.findings]
    truth, predicted = regions_from_labels(small_case.labels), regions_from_labels(labels.array)
    assert dice(predicted[0], truth[0]) > 0.8
    heatmap = result.heatmap
    assert heatmap.array.dtype == np.float32 and 0.0 <= heatmap.array.min() and heatmap.array.max() <= 1.0
    assert heatmap.array[truth[0]].mean() > heatmap.array[~truth[0]].mean() + 0.5
    volumes = {m.region: m.value for m in result.measurements}
    assert set(volumes) == {"WT", "TC", "ET", "NCR", "ED"} and all(m.unit == "mL" for m in result.measurements)
    voxel_ml = float(np.prod(small_case.geometry.spacing)) / 1000.0
    assert volumes["WT"] == pytest.approx(int((labels.array > 0).sum()) * voxel_ml, abs=0.01)
    assert volumes["TC"] == pytest.approx(volumes["NCR"] + volumes["ET"], abs=0.02)


def test_main_finding_names_the_side_and_volume_with_a_tier(result, small_case) -> None:
    finding = result.findings[0]
    assert finding.description.startswith(small_case.side)
    assert "mL whole tumour" in finding.description
    assert finding.tier in ("high", "medium", "needs_review")
    assert finding.concept is not None and finding.concept.value == "126952004"
    assert np.linalg.norm(np.asarray(finding.location_patient) - small_case.centre_lps) < 15.0
    assert result.provenance is not None and result.provenance.plugin_id == "brain_tumor_mri"
    assert result.embedding is not None and result.similar_cases
    similarities = [case.similarity for case in result.similar_cases]
    assert similarities == sorted(similarities, reverse=True)


def test_series_off_the_t1c_grid_are_resampled_and_the_result_warns(plugin, small_case, tmp_path) -> None:
    volumes = volumes_of(small_case)
    flair = volumes["FLAIR"]
    coarse = Geometry((53, 64, 53), (3.0, 3.0, 3.0), tuple(np.asarray(flair.geometry.origin) + 1.0))  # <= 3 mm
    volumes["FLAIR"] = Volume(resample(flair.array, flair.geometry, coarse), coarse, "MR", flair.ids)
    result = run_plugin("brain_tumor_mri", volumes, registry=PluginRegistry({plugin.id: plugin}),
                        audit_log=tmp_path / "audit.jsonl")
    assert result.label_map.geometry.same_grid(small_case.geometry)
    assert result.warnings[-1].startswith("FLAIR has another voxel grid than T1c")
    assert len(result.warnings) == (1 if result.domain.in_domain else 2)  # the banner first when outside
    assert "another voxel grid" not in result.findings[0].description


def test_a_missing_sequence_is_refused(plugin, small_case, tmp_path) -> None:
    volumes = volumes_of(small_case)
    del volumes["T2"]
    with pytest.raises(PluginError, match="T2"):
        run_plugin("brain_tumor_mri", volumes, registry=PluginRegistry({plugin.id: plugin}),
                   audit_log=tmp_path / "audit.jsonl")
