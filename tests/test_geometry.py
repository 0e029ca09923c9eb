"""Voxel <-> patient (LPS) transforms, checked against SimpleITK's own index/physical-point mapping."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from engine.geometry import Geometry, direction_from_image_orientation
from engine.volume import Heatmap, Label, LabelMap, Volume
from tests.sitk_reference import to_sitk


def _oblique_direction() -> np.ndarray:
    # A stack tilted 20 degrees about L and 10 degrees about P: a real double-oblique acquisition.
    a, b = np.radians(20), np.radians(10)
    rot_x = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rot_y = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    return rot_y @ rot_x


@pytest.fixture
def oblique() -> Geometry:
    return Geometry(shape=(7, 11, 13), spacing=(0.7, 0.8, 2.5), origin=(-120.0, 35.5, 210.0),
                    direction=_oblique_direction())


def test_voxel_to_patient_matches_simpleitk(oblique: Geometry) -> None:
    itk = to_sitk(Volume(np.zeros(oblique.shape, np.int16), oblique))
    rng = np.random.default_rng(0)
    for z, y, x in rng.integers(0, [7, 11, 13], size=(20, 3)):
        expected = itk.TransformIndexToPhysicalPoint((int(x), int(y), int(z)))
        np.testing.assert_allclose(oblique.voxel_to_patient([z, y, x]), expected, atol=1e-9)


def test_patient_to_voxel_inverts(oblique: Geometry) -> None:
    points = np.random.default_rng(1).uniform(0, 6, size=(50, 3))
    back = oblique.patient_to_voxel(oblique.voxel_to_patient(points))
    np.testing.assert_allclose(back, points, atol=1e-9)


def test_affine_applies_itk_index_order(oblique: Geometry) -> None:
    lps = oblique.affine @ np.array([4.0, 2.0, 3.0, 1.0])  # x=4, y=2, z=3
    np.testing.assert_allclose(lps[:3], oblique.voxel_to_patient([3.0, 2.0, 4.0]))


def test_projection_geometry_is_2d() -> None:
    geometry = Geometry(shape=(100, 80), spacing=(0.2, 0.3))
    assert geometry.is_projection and geometry.spacing == (0.2, 0.3, 1.0)
    np.testing.assert_allclose(geometry.voxel_to_patient([10, 5]), [1.0, 3.0, 0.0])
    np.testing.assert_allclose(geometry.patient_to_voxel([1.0, 3.0, 0.0]), [10, 5])


def test_direction_from_axial_orientation_points_lps() -> None:
    direction = direction_from_image_orientation([1, 0, 0, 0, 1, 0])
    np.testing.assert_allclose(direction, np.eye(3))
    assert Geometry((2, 2, 2), direction=direction).orientation_letters() == ("L", "P", "S")


def test_coronal_and_sagittal_orientation_letters() -> None:
    coronal = Geometry((2, 2, 2), direction=direction_from_image_orientation([1, 0, 0, 0, 0, -1]))
    sagittal = Geometry((2, 2, 2), direction=direction_from_image_orientation([0, 1, 0, 0, 0, -1]))
    assert coronal.orientation_letters() == ("L", "I", "P")
    assert sagittal.orientation_letters() == ("P", "I", "R")


def test_bad_geometry_is_refused() -> None:
    with pytest.raises(ValueError, match="spacing"):
        Geometry((2, 2, 2), spacing=(1, 0, 1))
    with pytest.raises(ValueError, match="orthonormal"):
        Geometry((2, 2, 2), direction=np.diag([1.0, 2.0, 1.0]))


def test_overlays_must_share_the_volume_grid(oblique: Geometry) -> None:
    with pytest.raises(ValueError, match="does not match"):
        LabelMap(np.zeros((7, 11, 12), np.uint8), oblique)
    with pytest.raises(TypeError):
        LabelMap(np.zeros(oblique.shape, np.int32), oblique)
    with pytest.raises(ValueError, match="0..1"):
        Heatmap(np.full(oblique.shape, 1.5), oblique)
    labels = LabelMap(np.zeros(oblique.shape, np.uint8), oblique, [Label(1, "lesion"), Label(2, "oedema")])
    labels.array[0, 0, :3] = 2
    assert labels.voxel_counts() == {1: 0, 2: 3}


def test_same_grid(oblique: Geometry) -> None:
    assert oblique.same_grid(Geometry(oblique.shape, oblique.spacing, oblique.origin, oblique.direction))
    shifted = Geometry(oblique.shape, oblique.spacing, (-120.0, 35.5, 211.0), oblique.direction)
    assert not oblique.same_grid(shifted)


def test_itk_direction_round_trip(oblique: Geometry) -> None:
    itk = to_sitk(Volume(np.zeros(oblique.shape, np.int16), oblique))
    np.testing.assert_allclose(np.asarray(itk.GetDirection()).reshape(3, 3), oblique.direction)
    assert isinstance(itk, sitk.Image)
