"""MONAI bundle import: the plugin written by training.importers.monai_bundle, run through the engine's
analysis path, agrees with MONAI's own bundle inference (its parsed preprocessing, SlidingWindowInferer,
Activationsd, Invertd, AsDiscreted, KeepLargestConnectedComponentd) on the oblique, anisotropic phantom:
label Dice >= 0.99 per label, softmax max abs difference <= 1e-3, the label map on the input's voxels."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from monai_fixture import monai_inference, write_bundle  # noqa: E402
from nnunet_fixture import phantom  # noqa: E402

from engine.ai.manifest import load_manifest  # noqa: E402
from engine.ai.pipeline import steps  # noqa: E402
from engine.ai.pipeline.run import predict  # noqa: E402
from engine.ai.pipeline.schema import parse_pipeline  # noqa: E402
from engine.ai.registry import discover  # noqa: E402
from engine.ai.sessions import cpu_session  # noqa: E402
from engine.analysis.service import analyze_series  # noqa: E402
from engine.nifti import read_nifti, write_nifti  # noqa: E402
from training.importers.common import ImportRefused  # noqa: E402
from training.importers.monai_bundle import import_bundle  # noqa: E402


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("monai")
    volume, truth = phantom()
    image = root / "case.nii.gz"
    write_nifti(volume, image)
    bundle = write_bundle(root, volume.array, truth)
    plugin = import_bundle(bundle, root / "plugins" / "bundle", plugin="monai-phantom", examples={"image": image})
    return {"root": root, "bundle": bundle, "image": image, "plugin": plugin}


def test_imported_bundle_matches_monai_bundle_inference(imported, tmp_path):
    probabilities, seg = monai_inference(imported["bundle"], imported["image"])
    probabilities, seg = probabilities.transpose(0, 3, 2, 1), seg.transpose(2, 1, 0)  # file (x, y, z) -> (z, y, x)
    volume = read_nifti(imported["image"], modality="CT")
    registry = discover([imported["plugin"].parent], entry_points=False)
    analysis = analyze_series("monai-phantom", {"image": None}, loaded={"image": volume}, registry=registry,
                              audit_log=tmp_path / "audit.jsonl")
    label_map = analysis.result.label_map
    assert label_map is not None and label_map.geometry.same_grid(volume.geometry, tolerance_mm=1e-4)
    for value in (1, 2):
        ours, theirs = label_map.array == value, seg == value
        assert theirs.sum() > 20, f"label {value}: the fixture model should find it"
        dice = 2 * (ours & theirs).sum() / (ours.sum() + theirs.sum())
        assert dice >= 0.99, f"label {value}: Dice {dice:.4f} against MONAI"
    manifest = load_manifest(imported["plugin"] / "manifest.toml")
    session = cpu_session(imported["plugin"] / "model.onnx")
    prediction = predict(parse_pipeline(manifest.pipeline), [1, 2], [volume.array], volume.geometry,
                         lambda batch: session.run(["logits"], {"image": batch})[0])
    difference = float(np.abs(probabilities - prediction.probabilities).max())
    assert difference <= 1e-3, f"softmax differs from MONAI by {difference:.2e}"
    assert (imported["plugin"] / "MODEL_CARD.md").read_text().startswith("Imported model, validation UNKNOWN")


def test_monai_tiles_and_importance_map():
    from monai.data.utils import compute_importance_map, dense_patch_slices
    from monai.inferers.utils import _get_scan_interval

    assert np.allclose(steps.monai_importance((16, 12, 9)),
                       compute_importance_map((16, 12, 9), mode="gaussian", sigma_scale=0.125).numpy(), atol=1e-7)
    for size, roi, overlap in [((29, 24, 17), (16, 16, 16), 0.25), ((100, 64, 40), (32, 32, 32), 0.5)]:
        interval = _get_scan_interval(size, roi, 3, (overlap,) * 3)
        slices = dense_patch_slices(size, roi, interval)
        ours = steps.monai_tile_starts(size, roi, overlap)
        assert sorted({s[d].start for s in slices} for d in range(3)) == sorted(set(a) for a in ours)


def test_unknown_transform_is_refused_by_name(imported, tmp_path):
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(imported["bundle"], bundle)
    config = json.loads((bundle / "configs" / "inference.json").read_text())
    config["preprocessing"]["transforms"].insert(3, {"_target_": "RandFlipd", "keys": "image", "prob": 0.5})
    (bundle / "configs" / "inference.json").write_text(json.dumps(config))
    with pytest.raises(ImportRefused, match="preprocessing transform RandFlipd is not supported"):
        import_bundle(bundle, tmp_path / "out")


def test_axis_aligned_volume_uses_monais_corner_grid(imported, tmp_path):
    """An exactly axis-aligned affine makes MONAI align the first voxels instead of the grid centres."""
    from engine.geometry import Geometry
    from engine.volume import Volume

    volume = read_nifti(imported["image"], modality="CT")
    permuted = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    aligned = Volume(volume.array, Geometry(volume.geometry.shape, volume.geometry.spacing, volume.geometry.origin,
                                            permuted), modality="CT")
    image = tmp_path / "aligned.nii.gz"
    write_nifti(aligned, image)
    probabilities, _ = monai_inference(imported["bundle"], image)
    manifest = load_manifest(imported["plugin"] / "manifest.toml")
    session = cpu_session(imported["plugin"] / "model.onnx")
    loaded = read_nifti(image, modality="CT")
    prediction = predict(parse_pipeline(manifest.pipeline), [1, 2], [loaded.array], loaded.geometry,
                         lambda batch: session.run(["logits"], {"image": batch})[0])
    assert float(np.abs(probabilities.transpose(0, 3, 2, 1) - prediction.probabilities).max()) <= 1e-3
