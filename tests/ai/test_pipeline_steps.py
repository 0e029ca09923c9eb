"""The declared-pipeline steps against the libraries they reproduce (nnU-Net v2, skimage), the
reorientation's geometry, and manifest validation of a [pipeline] table."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ai.manifest import ManifestError, parse_manifest
from engine.ai.pipeline import steps
from engine.ai.pipeline.orientation import reorientation
from engine.ai.pipeline.schema import Normalization
from engine.geometry import Geometry


def oblique_geometry(shape=(7, 9, 11)) -> Geometry:
    a, b = np.radians(30), np.radians(-15)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    permute = np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]])  # a sagittal-ish acquisition
    return Geometry(shape=shape, spacing=(0.7, 1.3, 3.0), origin=(10.0, -20.0, 5.0), direction=rz @ ry @ permute)


@pytest.mark.parametrize("code", ["RAS", "LPS", "PIL", "as_stored"])
def test_reorientation_keeps_every_voxel_at_its_patient_point(code):
    geometry = oblique_geometry()
    array = np.random.default_rng(0).normal(size=geometry.shape)
    orient = reorientation(geometry, code)
    moved, grid = orient.forward(array), orient.geometry(geometry)
    assert moved.shape == grid.shape
    if code != "as_stored":
        assert "".join(grid.orientation_letters()) == code
    # the same voxel value sits at the same patient point in both grids
    for index in [(0, 0, 0), (6, 8, 10), (3, 2, 7)]:
        point = geometry.voxel_to_patient(np.array(index, float))
        back = np.rint(grid.patient_to_voxel(point)).astype(int)
        assert np.allclose(grid.voxel_to_patient(back.astype(float)), point, atol=1e-6)
        assert moved[tuple(back)] == array[index]
    assert np.array_equal(orient.backward(moved[None])[0], array)


def test_resize_is_skimage_and_nnunet_resampling():
    from nnunetv2.preprocessing.resampling.default_resampling import resample_data_or_seg_to_shape
    from skimage.transform import resize

    rng = np.random.default_rng(1)
    data = rng.normal(size=(2, 12, 15, 9)).astype(np.float32)
    for current, target in [((1.0, 1.2, 0.9), (1.5, 1.5, 1.5)), ((4.0, 0.8, 0.8), (4.0, 1.1, 1.1)),
                            ((0.8, 0.8, 3.5), (1.0, 1.0, 1.4))]:
        shape = steps.new_shape(data.shape[1:], current, target)
        axis = steps.separate_axis(current, target, "auto", 3.0)
        ours = steps.resize(data, shape, 3, axis, 0, np.float32)
        theirs = resample_data_or_seg_to_shape(data, shape, current, target, False, 3, 0, None)
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() < 1e-5, (current, target)
    plain = steps.resize(data[:1].astype(np.float64), (20, 7, 13), 3)
    assert np.allclose(plain[0], resize(data[0].astype(np.float64), (20, 7, 13), 3, mode="edge", anti_aliasing=False))


def test_gaussian_tiles_and_crop_are_nnunets():
    import torch
    from acvl_utils.cropping_and_padding.bounding_boxes import get_bbox_from_mask
    from nnunetv2.inference.sliding_window_prediction import compute_gaussian, compute_steps_for_sliding_window
    from nnunetv2.preprocessing.cropping.cropping import create_nonzero_mask

    theirs = compute_gaussian((8, 16, 12), 1 / 8, 10, device=torch.device("cpu")).float().numpy()
    assert np.array_equal(steps.gaussian_importance((8, 16, 12)), theirs)
    for size, patch in [((30, 40, 14), (8, 16, 16)), ((100, 64, 129), (64, 64, 64))]:
        grown = tuple(max(s, p) for s, p in zip(size, patch, strict=True))
        assert steps.tile_starts(grown, patch, 0.5) == compute_steps_for_sliding_window(grown, patch, 0.5)
    data = np.zeros((1, 10, 12, 14), np.float32)
    data[0, 2:7, 3:9, 1:13] = 5
    data[0, 4, 5, 6] = 0  # a hole is filled, not a reason to crop
    box, mask = steps.foreground_box(data)
    expected = get_bbox_from_mask(create_nonzero_mask(data))
    assert [(s.start, s.stop) for s in box] == [tuple(b) for b in expected]
    assert mask.all()


def test_normalisation_schemes():
    from nnunetv2.preprocessing.normalization.default_normalization_schemes import (
        CTNormalization,
        ZScoreNormalization,
    )

    rng = np.random.default_rng(2)
    image = rng.normal(50, 200, size=(6, 7, 8)).astype(np.float32)
    properties = {"mean": 40.0, "std": 120.0, "percentile_00_5": -100.0, "percentile_99_5": 300.0}
    ct = Normalization(scheme="ct", mean=40.0, sd=120.0, lower=-100.0, upper=300.0)
    assert np.allclose(steps.normalize(image, ct, None),
                       CTNormalization(False, properties).run(image.copy()), atol=1e-6)
    mask = image > 0
    ours = steps.normalize(image, Normalization(scheme="zscore", use_mask=True), mask)
    theirs = ZScoreNormalization(True, {}).run(image.copy(), np.where(mask, 0, -1))
    assert np.allclose(ours, theirs, atol=1e-5)
    scaled = steps.normalize(image, Normalization(scheme="clip_scale", clip=(-100, 300, 0, 1, 1)), None)
    assert scaled.min() == 0.0 and scaled.max() == 1.0


def test_postprocessing_components_and_holes():
    labels = np.zeros((9, 9, 9), np.uint8)
    labels[1:6, 1:6, 1:6] = 1
    labels[3, 3, 3] = 0  # a hole
    labels[8, 8, 8] = 1  # a speck
    steps.keep_largest_component(labels, 1)
    assert labels[8, 8, 8] == 0 and labels[1, 1, 1] == 1
    steps.fill_holes(labels, 1)
    assert labels[3, 3, 3] == 1


def test_sliding_window_mirroring_averages_flipped_predictions():
    data = np.random.default_rng(3).normal(size=(1, 10, 12, 9)).astype(np.float32)

    def asymmetric(batch):  # logits that depend on position: mirroring must average flips back correctly
        ramp = np.arange(batch.shape[-1], dtype=np.float32)
        return np.concatenate([batch, batch * 0 + ramp], axis=1)

    plain = steps.sliding_window(data, (8, 8, 8), asymmetric, overlap=0.5)
    mirrored = steps.sliding_window(data, (8, 8, 8), asymmetric, overlap=0.5, mirror_axes=[0, 1, 2])
    assert np.allclose(plain[0], data[0], atol=1e-5) and np.allclose(mirrored[0], data[0], atol=1e-5)
    assert not np.allclose(plain[1], mirrored[1])  # the ramp flipped along x averages to its mean
    assert np.allclose(mirrored[1], 3.5, atol=1e-4)


MANIFEST = """
schema_version = 1
id = "declared"
name = "Declared"
version = "0.1.0"
kind = "segmentation"
modalities = ["CT"]
intended_use = "Research."
training_data = "Phantoms."
clinical_use = false
[[inputs]]
role = "CT"
[[models]]
name = "net"
path = "net.onnx"
sha256 = "{sha}"
[[labels]]
value = 1
name = "organ"
color = [255, 0, 0]
code = {{ scheme = "SCT", value = "85756007", meaning = "Tissue" }}
[pipeline]
{extra}
[pipeline.inference]
models = ["{model}"]
patch_size = [8, 8, 8]
"""


def test_manifest_validates_the_pipeline():
    sha = "0" * 64
    manifest = parse_manifest(MANIFEST.format(sha=sha, model="net", extra=""), "m.toml")
    assert manifest.entry_point == "" and manifest.pipeline["inference"]["models"] == ["net"]
    with pytest.raises(ManifestError, match="pipeline.inference.models"):
        parse_manifest(MANIFEST.format(sha=sha, model="other", extra=""), "m.toml")
    with pytest.raises(ManifestError, match="pipeline.orientation"):
        parse_manifest(MANIFEST.format(sha=sha, model="net", extra='orientation = "RAR"'), "m.toml")
    with pytest.raises(ManifestError, match="pipeline.channels"):
        parse_manifest(MANIFEST.format(sha=sha, model="net", extra='channels = ["MR"]'), "m.toml")
    with pytest.raises(ManifestError, match="entry_point"):
        parse_manifest(MANIFEST.format(sha=sha, model="net", extra="").replace("[pipeline]\n", "")
                       .split("[pipeline.inference]")[0], "m.toml")
