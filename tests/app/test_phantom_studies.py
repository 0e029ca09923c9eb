"""Open the phantom sample studies through the real scan -> catalog -> load path and check what is drawn."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.app.conftest import rendered, save_artifact


def open_and_wait(window, qtbot, path) -> None:
    with qtbot.waitSignal(window.settled, timeout=60000):
        window.open_path(path)
    assert window.model.volume is not None, window.last_error
    assert "first_slice" not in window.model.volume.meta or window.model.volume.meta.get("window") is not None


def test_cardiac_ct_heart_left_spine_posterior_and_roi_hu(window, qtbot, samples) -> None:
    truth = json.loads((samples / "cardiac_ct" / "ground_truth.json").read_text())
    open_and_wait(window, qtbot, samples / "cardiac_ct")
    model = window.model
    heart, spine = np.array(truth["heart_centre_lps"]), np.array(truth["spine_centre_lps"])
    model.set_crosshair(heart)
    model.apply_preset(3)  # mediastinum 350/50
    axial = window.grid.view("axial")
    rgb = rendered(axial)
    hx, hy = axial.plane.patient_to_pixel(heart)
    sx, sy = axial.plane.patient_to_pixel(spine)
    mirror = heart * (-1, 1, 1) + (2 * spine[0], 0, 0)  # the same spot on the patient's right
    mx, my = axial.plane.patient_to_pixel(mirror)
    assert hx > axial.width() / 2 > mx  # heart on the patient's left = screen right
    assert sy > hy  # spine posterior = lower on screen
    assert rgb[round(hy), round(hx), 0] > rgb[round(my), round(mx), 0] + 30  # heart tissue is where expected
    for name in ("coronal", "sagittal"):
        view = window.grid.view(name)
        rendered(view)
        x, _ = view.plane.patient_to_pixel(heart)
        x_spine, _ = view.plane.patient_to_pixel(spine)
        if name == "sagittal":
            assert x < x_spine  # anterior heart left of the posterior spine
        else:
            assert x > view.width() / 2
    from engine.measurements import roi_statistics

    stats = roi_statistics(model.volume, heart, np.eye(3)[0], np.eye(3)[1], 5, 5, "ellipse")
    assert stats.unit == "HU" and stats.mean == pytest.approx(37, abs=25)
    save_artifact(window, "cardiac_ct_1x3.png")
    assert window.browser.tree.topLevelItemCount() == 1


def test_chest_xray_single_view_heart_on_screen_right(window, qtbot, samples) -> None:
    open_and_wait(window, qtbot, samples / "chest_xray")
    assert window.grid.shown() == ["projection"]
    view = window.grid.view("projection")
    rgb = rendered(view)[..., 0].astype(float)
    truth = json.loads((samples / "chest_xray" / "ground_truth.json").read_text())
    assert truth["view_position"] == "PA"
    # PA radiograph shown as acquired: the patient's left (heart shadow) is on screen right
    midline_point = window.model.volume.voxel_to_patient(np.array([1024.0, truth["midline_col"]]))
    midline = view.plane.patient_to_pixel(midline_point)[0]
    rows = slice(view.height() // 2, int(view.height() * 0.7))
    width = view.width() // 8
    left_of_patient = rgb[rows, int(midline) + width // 2: int(midline) + width].mean()
    right_of_patient = rgb[rows, int(midline) - width: int(midline) - width // 2].mean()
    assert left_of_patient > right_of_patient  # the heart shadow is brighter than the right lung
    save_artifact(window, "chest_xray.png")


@pytest.mark.parametrize("study", ["brain_mri", "prostate_mri"])
def test_mr_studies_open_in_mpr(window, qtbot, samples, study) -> None:
    open_and_wait(window, qtbot, samples / study)
    for name in ("axial", "coronal", "sagittal"):
        assert rendered(window.grid.view(name)).max() > 0
    window.registry.run("window.preset_2")  # percentile window for MR
    if study == "brain_mri":
        window.registry.run("series.next")
        qtbot.waitSignal(window.settled, timeout=60000).wait()
        assert window.model.volume.meta.get("description")
    save_artifact(window, f"{study}_1x3.png")


def test_cli_screenshot(samples, tmp_path) -> None:
    """`sightline view PATH --layout 2x2 --screenshot FILE` in its own process, as docs and users run it."""
    import os
    import subprocess
    import sys

    from PySide6.QtGui import QImage

    from tests.app.conftest import ARTIFACTS

    out = ARTIFACTS / "cli_brain_2x2.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "app.cli", "view", str(samples / "brain_mri"), "--layout", "2x2",
               "--screenshot", str(out), "--catalog", str(tmp_path / "c.sqlite")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=dict(os.environ),
                          cwd=ARTIFACTS.parents[1])
    assert done.returncode == 0, done.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1600, 1000)
