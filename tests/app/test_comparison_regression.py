"""Reference-image regression of the comparison layout: the phantom current and prior CT of one patient
(different frames of reference) hung by "CT: current vs prior", linked at the known offset, scrolled to the
ball, patient text hidden, the comparison area grabbed at a fixed size and compared with
tests/app/reference_png/comparison_ct_current_vs_prior.png with the tolerances of test_image_regression.py
(regenerate the same way, with SIGHTLINE_UPDATE_REFERENCE=1, and look at the PNG before committing it)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtGui import QImage

from engine.catalog import SeriesKey
from tests.app.comparison_phantoms import BALL, PRIOR_SHIFT, current_and_prior
from tests.app.conftest import ARTIFACTS
from tests.app.test_image_regression import (
    DIFFERING_FRACTION,
    MEAN_TOLERANCE,
    REFERENCE,
    UPDATE_VARIABLE,
    difference,
    save_rgb,
    to_rgb,
)

NAME = "comparison_ct_current_vs_prior"
SIZE = (960, 420)


@pytest.fixture
def hung(window, qtbot, tmp_path):
    current, _ = current_and_prior(tmp_path / "studies")
    with qtbot.waitSignal(window.settled, timeout=60000):
        window.open_path(tmp_path / "studies")
    with qtbot.waitSignal(window.settled, timeout=60000):
        window.open_series(SeriesKey(current.series_uid))
    with qtbot.waitSignal(window.comparison.hung, timeout=60000):
        assert window.comparison.apply_protocol("ct_current_vs_prior")
    grid = window.comparison.grid
    grid.set_offset(1, np.array(PRIOR_SHIFT))
    grid.viewports[0].model.set_crosshair(BALL + np.array([0.0, 0.0, 2.0]))
    for viewport in grid.viewports[:2]:
        viewport.model.toggle_patient_text()  # names / IDs / birth dates stay out of committed images
        assert not viewport.model.show_patient_text
    area = window.comparison.area
    area.setFixedSize(*SIZE)
    for view in area.views.values():
        view.clearFocus()
    qtbot.waitUntil(lambda: area.size().toTuple() == SIZE)
    return window


def test_comparison_layout_matches_its_reference_png(hung) -> None:
    actual = to_rgb(hung.comparison.area.grab().toImage())
    reference_path = REFERENCE / f"{NAME}.png"
    save_rgb(actual, ARTIFACTS / f"{NAME}.png")
    if os.environ.get(UPDATE_VARIABLE) == "1":
        save_rgb(actual, reference_path)
        return
    assert reference_path.exists(), f"no reference {reference_path}; create it with {UPDATE_VARIABLE}=1"
    reference = to_rgb(QImage(str(reference_path)))
    assert actual.shape == reference.shape, f"size {actual.shape} != reference {reference.shape}"
    mean, differing = difference(actual, reference)
    assert mean <= MEAN_TOLERANCE and differing <= DIFFERING_FRACTION, (
        f"{NAME} differs from its reference: mean {mean:.2f}, {differing:.2%} of pixels differ; see "
        f"{ARTIFACTS / NAME}.png. If the change is intended, regenerate with {UPDATE_VARIABLE}=1.")
