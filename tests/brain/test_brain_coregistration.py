"""Co-registration check: same frame and grid pass unchanged; anything else is resampled onto T1c, with a warning."""

from __future__ import annotations

import numpy as np

from engine.geometry import Geometry
from engine.volume import SourceIds, Volume
from plugins.brain_tumor_mri.preprocessing import coregister, resample
from tests.brain.conftest import volumes_of


def test_same_frame_and_grid_pass_unchanged(small_case) -> None:
    volumes = volumes_of(small_case)
    aligned, warnings = coregister(volumes)
    assert warnings == []
    assert all(aligned[name] is volumes[name] for name in volumes)


def test_other_grid_is_resampled_onto_t1c_with_a_warning(small_case) -> None:
    volumes = volumes_of(small_case)
    flair = volumes["FLAIR"]
    coarse = Geometry((40, 48, 40), (4.0, 4.0, 4.0), tuple(np.asarray(flair.geometry.origin) + 1.0))
    volumes["FLAIR"] = Volume(resample(flair.array, flair.geometry, coarse), coarse, "MR", flair.ids)
    aligned, warnings = coregister(volumes)
    assert len(warnings) == 1 and warnings[0].startswith("FLAIR has another voxel grid than T1c")
    assert aligned["FLAIR"].geometry.same_grid(volumes["T1c"].geometry)
    original = flair.array.astype(np.float32)
    correlation = np.corrcoef(aligned["FLAIR"].array.ravel(), original.ravel())[0, 1]
    assert correlation > 0.9


def test_other_frame_of_reference_warns_even_on_the_same_grid(small_case) -> None:
    volumes = volumes_of(small_case)
    t2 = volumes["T2"]
    volumes["T2"] = Volume(t2.array, t2.geometry, "MR", SourceIds("1.2", "1.2.9", "9.9.9"))
    aligned, warnings = coregister(volumes)
    assert len(warnings) == 1 and "another frame of reference" in warnings[0]
    assert np.allclose(aligned["T2"].array, t2.array, atol=1e-3)
