"""engine.resample against SimpleITK's Resample (identity transform) and SmoothingRecursiveGaussian.

Tolerances (stated in the asserts; measured with SimpleITK 2.5.7 / SciPy 1.17): linear and nearest-neighbour
interpolation agree with SimpleITK to float32 rounding (allowed: max |difference| <= 1e-5 of the value range,
measured 0, bit-identical; the same voxels fall outside and read 0). The Gaussian anti-aliasing is an exact
(truncated) Gaussian where ITK's is a recursive (Deriche) approximation: allowed max |difference| <= 0.5 %
of the value range and mean <= 0.05 % (measured 0.32 % / 0.03 %); the brain preprocessing's smoothing +
linear resampling: allowed 0.1 % / 0.01 % (measured 0.043 % / 0.006 %).
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from engine.geometry import Geometry
from engine.resample import index_transform, resample, smooth
from engine.volume import Volume
from tests.sitk_reference import to_sitk


def _rotation(a_deg: float, b_deg: float) -> np.ndarray:
    a, b = np.radians([a_deg, b_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    return ry @ rx


SOURCE = Geometry((14, 40, 36), (0.8, 0.9, 3.0), (-14.0, -18.0, -20.0), _rotation(12, -8))
TARGETS = {
    "isotropic_2mm": Geometry((22, 20, 16), (2.0, 2.0, 2.0), (-16.0, -20.0, -22.0)),
    "oblique_fine": Geometry((30, 33, 31), (0.7, 0.7, 1.3), (-10.0, -12.0, -15.0), _rotation(-20, 25)),
    "partly_outside": Geometry((10, 25, 25), (1.5, 1.5, 4.0), (5.0, 0.0, -5.0)),
    "same_grid": SOURCE,
}


def _phantom() -> np.ndarray:
    z, y, x = np.indices(SOURCE.shape, dtype=np.float32)
    rng = np.random.default_rng(3)
    return (1000 * np.exp(-((x - 18) ** 2 + (y - 20) ** 2) / 120 - (z - 7) ** 2 / 20)
            + 40 * np.sin(x / 3) + rng.normal(0, 5, SOURCE.shape)).astype(np.float32)


def _sitk_resample(array: np.ndarray, target: Geometry, interpolator) -> np.ndarray:
    reference = to_sitk(Volume(np.zeros(target.shape, np.float32), target))
    image = to_sitk(Volume(array, SOURCE))
    return sitk.GetArrayFromImage(sitk.Resample(image, reference, sitk.Transform(), interpolator, 0.0,
                                                sitk.sitkFloat32))


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_linear_matches_simpleitk(target: str) -> None:
    array = _phantom()
    ours = resample(array, SOURCE, TARGETS[target], order=1)
    theirs = _sitk_resample(array, TARGETS[target], sitk.sitkLinear)
    assert ours.dtype == np.float32 and ours.shape == TARGETS[target].shape
    np.testing.assert_array_equal(ours == 0, theirs == 0)  # the same voxels fall outside
    value_range = float(np.ptp(array))
    assert np.max(np.abs(ours - theirs)) <= 1e-5 * value_range


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_nearest_matches_simpleitk(target: str) -> None:
    labels = np.random.default_rng(5).integers(0, 5, SOURCE.shape).astype(np.float32)
    ours = resample(labels, SOURCE, TARGETS[target], order=0)
    theirs = _sitk_resample(labels, TARGETS[target], sitk.sitkNearestNeighbor)
    mismatched = np.count_nonzero(ours != theirs)
    assert mismatched <= 1e-4 * ours.size  # only exact rounding ties could differ


def test_same_grid_is_the_identity() -> None:
    array = _phantom()
    np.testing.assert_allclose(resample(array, SOURCE, SOURCE), array, atol=1e-3)
    matrix, offset = index_transform(SOURCE, SOURCE)
    np.testing.assert_allclose(matrix, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(offset, 0, atol=1e-9)


def test_smoothing_matches_itk_recursive_gaussian() -> None:
    array = _phantom()
    sigma_mm = (1.2, 1.4, 3.0)
    ours = smooth(array, SOURCE, sigma_mm)
    theirs = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(to_sitk(Volume(array, SOURCE)), sigma_mm))
    difference = np.abs(ours - theirs) / float(np.ptp(array))
    assert difference.max() <= 0.005 and difference.mean() <= 0.0005


def test_brain_resample_with_antialiasing_matches_the_simpleitk_pipeline() -> None:
    from plugins.brain_tumor_mri.preprocessing import resample as brain_resample

    array = _phantom()
    target = TARGETS["isotropic_2mm"]
    gain = np.asarray(target.spacing) - np.asarray(SOURCE.spacing)
    sigma = [max(float(g) / 2.0, 1e-3) for g in gain]
    image = to_sitk(Volume(array, SOURCE))
    smoothed = sitk.SmoothingRecursiveGaussian(image, sigma)
    reference = to_sitk(Volume(np.zeros(target.shape, np.float32), target))
    theirs = sitk.GetArrayFromImage(sitk.Resample(smoothed, reference, sitk.Transform(), sitk.sitkLinear, 0.0,
                                                  sitk.sitkFloat32))
    ours = brain_resample(array, SOURCE, target)
    inside = (theirs != 0) & (ours != 0)
    difference = np.abs(ours - theirs)[inside] / float(np.ptp(array))
    assert inside.sum() > 0.5 * ours.size
    assert difference.max() <= 0.001 and difference.mean() <= 0.0001


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="order"):
        resample(_phantom(), SOURCE, SOURCE, order=3)
    with pytest.raises(ValueError, match="shape"):
        resample(np.zeros((2, 2, 2)), SOURCE, SOURCE)
    with pytest.raises(ValueError, match="3D grids"):
        resample(np.zeros((4, 4)), Geometry((4, 4)), SOURCE)
