"""The brain phantom's tumour is a smooth shape: nothing cuts it along a plane.

The oedema used to be computed inside a box around the tumour that was smaller than the oedema could grow,
so it was cut flat on the box's faces: straight edges on sagittal and coronal views that a model can learn.
A smooth blob touches the planes of its bounding box in a small cap (its extreme slice holds far fewer voxels
than a slice a few voxels inside); a shape cut by a plane is widest right at the cut.
"""

from __future__ import annotations

import numpy as np
import pytest

from training.phantoms.brain_mri import make_brain_mri

SHAPE = (80, 96, 80)  # 2 mm voxels
SEEDS = range(10)
DEPTH = 3  # voxels inside the extreme slice


def flat_face_ratio(mask: np.ndarray, depth: int = DEPTH) -> float:
    """Largest, over the six faces of ``mask``'s bounding box, of (voxels in the extreme slice) / (voxels in the
    slice ``depth`` voxels further in): well below 1 for a smooth shape, about 1 or more for a cut one."""
    worst = 0.0
    for axis in range(3):
        profile = mask.sum(axis=tuple(a for a in range(3) if a != axis))
        occupied = np.flatnonzero(profile)
        for end, inner in ((occupied[0], occupied[0] + depth), (occupied[-1], occupied[-1] - depth)):
            worst = max(worst, float(profile[end]) / max(float(profile[inner]), 1.0))
    return worst


def test_flat_face_ratio_tells_a_cut_ball_from_a_ball() -> None:
    z, y, x = np.mgrid[:40, :40, :40]
    ball = (z - 20) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 < 12**2
    assert flat_face_ratio(ball) < 0.5
    cut = ball.copy()
    cut[:, :, 24:] = False  # a plane through the ball, like a box face
    assert flat_face_ratio(cut) > 0.9


@pytest.mark.parametrize("seed", SEEDS)
def test_tumour_and_oedema_are_not_cut_by_a_box(seed: int) -> None:
    case = make_brain_mri(seed, SHAPE)
    whole = case.labels > 0
    assert (case.labels == 2).any()
    assert flat_face_ratio(whole) < 0.7, f"seed {seed}: the whole tumour ends in a flat face"
