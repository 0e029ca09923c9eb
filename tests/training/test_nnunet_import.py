"""nnU-Net v2 import: the plugin written by training.importers.nnunet, run through the engine's analysis
path, agrees with nnU-Net's own nnUNetPredictor on an oblique, anisotropic phantom (label Dice >= 0.99 per
label, softmax max abs difference <= 1e-3), and its label map lies on the input's voxels."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from nnunet_fixture import phantom, write_results_folder  # noqa: E402

from engine.ai.manifest import load_manifest  # noqa: E402
from engine.ai.pipeline.run import predict  # noqa: E402
from engine.ai.pipeline.schema import parse_pipeline  # noqa: E402
from engine.ai.registry import discover  # noqa: E402
from engine.ai.sessions import cpu_session  # noqa: E402
from engine.analysis.service import analyze_series  # noqa: E402
from engine.nifti import read_nifti  # noqa: E402
from training.importers.common import ImportRefused  # noqa: E402
from training.importers.nnunet import import_nnunet, main  # noqa: E402


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("nnunet")
    volume, truth = phantom()
    results, image = write_results_folder(root, volume, truth)
    plugin = import_nnunet(results, root / "plugins" / "phantom", plugin="nnunet-phantom", examples={"CT": image})
    return {"root": root, "results": results, "image": image, "plugin": plugin, "truth": truth}


@pytest.fixture(scope="module")
def nnunet_output(imported):
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=True,
                                device=torch.device("cpu"), perform_everything_on_device=False, verbose=False,
                                allow_tqdm=False)
    predictor.initialize_from_trained_model_folder(str(imported["results"]), use_folds=(0,))
    out = imported["root"] / "nnunet_out"
    out.mkdir()
    predictor.predict_from_files_sequential([[str(imported["image"])]], str(out), save_probabilities=True,
                                            overwrite=True, folder_with_segs_from_prev_stage=None)
    return read_nifti(out / "case.nii.gz").array, np.load(out / "case.npz")["probabilities"]


def test_imported_plugin_matches_nnunet_predictor(imported, nnunet_output, tmp_path):
    seg, probabilities = nnunet_output
    volume = read_nifti(imported["image"], modality="CT")
    registry = discover([imported["plugin"].parent], entry_points=False)
    assert not registry.problems
    analysis = analyze_series("nnunet-phantom", {"CT": None}, loaded={"CT": volume}, registry=registry,
                              audit_log=tmp_path / "audit.jsonl")
    result = analysis.result
    assert result.label_map is not None
    # the label map lies on the very voxels of the input
    assert result.label_map.geometry.same_grid(volume.geometry, tolerance_mm=1e-4)
    assert result.label_map.array.shape == seg.shape == volume.array.shape
    for value in (1, 2):
        ours, theirs = result.label_map.array == value, seg == value
        assert theirs.sum() > 20, f"label {value}: the fixture model should find it"
        dice = 2 * (ours & theirs).sum() / (ours.sum() + theirs.sum())
        assert dice >= 0.99, f"label {value}: Dice {dice:.4f} against nnUNetPredictor"
    # softmax before argmax, from the same pipeline and ONNX model the plugin runs
    manifest = load_manifest(imported["plugin"] / "manifest.toml")
    session = cpu_session(imported["plugin"] / manifest.models[0].path)
    prediction = predict(parse_pipeline(manifest.pipeline), [1, 2], [volume.array], volume.geometry,
                         lambda batch: session.run(["logits"], {"image": batch})[0])
    assert probabilities.shape == prediction.probabilities.shape
    difference = float(np.abs(probabilities - prediction.probabilities).max())
    assert difference <= 1e-3, f"softmax differs from nnUNetPredictor by {difference:.2e}"
    assert np.array_equal(prediction.labels, result.label_map.array)
    # no domain data: every finding needs review and says why
    assert result.findings and all(f.tier == "needs_review" for f in result.findings)
    assert any("no validated domain data" in w for w in result.warnings)
    assert {f.label for f in result.findings} == {"organ", "lesion"}
    # and the model is not trivial: it finds the phantom's structures
    truth = imported["truth"]
    assert 2 * ((seg == 1) & (truth == 1)).sum() / ((seg == 1).sum() + (truth == 1).sum()) > 0.8


def test_imported_folder_is_a_complete_plugin(imported):
    plugin = imported["plugin"]
    manifest = load_manifest(plugin / "manifest.toml")
    assert manifest.entry_point == "" and manifest.pipeline
    card = (plugin / "MODEL_CARD.md").read_text().splitlines()[0]
    assert card.startswith("Imported model, validation UNKNOWN")
    pipeline = parse_pipeline(manifest.pipeline)
    assert list(pipeline.transpose) == [2, 0, 1] and pipeline.resample is not None
    assert pipeline.inference.mirror_axes == [0, 1, 2] and pipeline.inference.patch_size == (8, 16, 16)
    assert pipeline.normalization[0].scheme == "ct" and pipeline.normalization[0].upper == 240.0
    assert {f.path for f in manifest.files} == {"example/CT.nii.gz", "example/expected_labels.nii.gz"}
    assert [label.name for label in manifest.labels] == ["organ", "lesion"]


def test_separate_folds_from_the_command_line(imported, tmp_path, capsys):
    out = tmp_path / "plugin"
    assert main([str(imported["results"]), "--out", str(out), "--separate-folds", "--id", "phantom-cli"]) == 0
    manifest = load_manifest(out / "manifest.toml")
    assert [m.path for m in manifest.models] == ["fold_0.onnx"]
    assert main([str(imported["results"]), "--out", str(out)]) == 1  # exists, no --overwrite
    assert "exists" in capsys.readouterr().err


def test_refuses_what_it_cannot_translate(imported, tmp_path):
    results = tmp_path / "results"
    (results / "fold_0").mkdir(parents=True)
    for name in ("plans.json", "dataset.json"):
        (results / name).write_text((imported["results"] / name).read_text())
    (results / "fold_0" / "checkpoint_final.pth").write_bytes(
        (imported["results"] / "fold_0" / "checkpoint_final.pth").read_bytes())
    dataset = json.loads((results / "dataset.json").read_text())
    dataset["labels"] = {"background": 0, "whole": [1, 2], "core": 2}
    dataset["regions_class_order"] = [1, 2]
    (results / "dataset.json").write_text(json.dumps(dataset))
    with pytest.raises(ImportRefused, match="dataset.json: region-based"):
        import_nnunet(results, tmp_path / "out")
    (results / "plans.json").unlink()
    with pytest.raises(ImportRefused, match="plans.json: missing"):
        import_nnunet(results, tmp_path / "out")


def test_site_reference_cases_give_the_imported_model_a_domain_check(imported, tmp_path):
    """Reference and validation phantoms set the threshold; a volume of another kind (no body outline, other
    intensities) scores far above another phantom and outside the domain, and the result says so."""
    import shutil

    from engine.nifti import write_nifti
    from engine.volume import Volume
    from training.importers.domain import fit

    plugin = tmp_path / "phantom"
    shutil.copytree(imported["plugin"], plugin)
    cases = []
    for seed in range(1, 9):
        volume, _ = phantom(seed=seed)
        cases.append(tmp_path / f"case{seed}.nii.gz")
        write_nifti(volume, cases[-1])
    result = fit(plugin, cases[:5], cases[5:7], k=3)
    manifest = load_manifest(plugin / "manifest.toml")
    assert manifest.domain is not None and manifest.domain.threshold == pytest.approx(result.threshold, abs=1e-6)
    registry = discover([plugin.parent], entry_points=False)
    inside = analyze_series("nnunet-phantom", {"CT": None}, loaded={"CT": read_nifti(cases[7], modality="CT")},
                            registry=registry, audit_log=tmp_path / "audit.jsonl").result
    assert inside.domain is not None and inside.domain.score is not None
    assert not any("no validated domain data" in w for w in inside.warnings)
    volume, _ = phantom(seed=9)
    rng = np.random.default_rng(9)
    other = Volume((rng.gamma(2.0, 150.0, volume.array.shape)).astype(np.float32), volume.geometry, modality="CT")
    outside = analyze_series("nnunet-phantom", {"CT": None}, loaded={"CT": other}, registry=registry,
                             audit_log=tmp_path / "audit.jsonl").result
    assert outside.domain is not None and not outside.domain.in_domain
    assert outside.domain.score is not None and outside.domain.score > 10 * max(inside.domain.score, result.threshold)
    assert any("outside the model's validated domain" in w for w in outside.warnings)
