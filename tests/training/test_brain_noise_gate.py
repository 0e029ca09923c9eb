"""The brain plugin's noise gate: the air level of a scan, the limit fitted on validation, the manifest line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plugins.brain_tumor_mri.preprocessing import PreparedBrain, air_level, noise_review
from training.brain.noise_gate import fit_limit, set_max_air_level

MANIFEST = """[preprocessing]
spacing_mm = 2.0
join_mm = 5.0
component_calibration = { features = ["a"], weights = [1], intercept = 0 }

[calibration]
temperature = 1.0
"""


def test_air_level_is_the_dark_class_median_or_none_without_air() -> None:
    rng = np.random.default_rng(0)
    volume = np.full((20, 20, 20), 0.6) + rng.normal(0.0, 0.02, (20, 20, 20))
    volume[:, :, :8] = 0.05 + rng.normal(0.0, 0.005, (20, 20, 8))  # air
    assert air_level(volume) == pytest.approx(0.05, abs=0.005)
    assert air_level(volume[:, :, 10:]) is None  # all head: the dark class is tissue, not air


def test_noise_review_fires_only_above_the_limit() -> None:
    def prepared(level: float | None) -> PreparedBrain:
        return PreparedBrain(np.zeros((4, 2, 2, 2), np.float32), None, None, [], level)  # type: ignore[arg-type]

    assert noise_review(prepared(0.04), 0.06) is None
    assert noise_review(prepared(None), 0.06) is None  # no air: nothing to measure
    assert noise_review(prepared(0.09), None) is None  # no limit in the manifest
    reason = noise_review(prepared(0.09), 0.06)
    assert reason == ("image noisier than the model was validated on: background signal 0.090 of the 99th "
                      "percentile (validated up to 0.060)")


def test_limit_is_the_margin_over_the_noisiest_validation_scan() -> None:
    assert fit_limit([0.02, None, 0.04, 0.03], margin=1.5) == pytest.approx(0.06)
    with pytest.raises(ValueError, match="no validation case"):
        fit_limit([None, None])


def test_the_limit_goes_into_preprocessing_and_replaces_an_earlier_one(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(MANIFEST)
    set_max_air_level(manifest, 0.0625)
    set_max_air_level(manifest, 0.07)
    text = manifest.read_text()
    assert text.count("max_air_level") == 1
    assert "join_mm = 5.0\nmax_air_level = 0.070000\ncomponent_calibration" in text
