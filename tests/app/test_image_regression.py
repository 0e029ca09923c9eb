"""Reference-image regression: fixed scenes of the phantom sample studies, opened through the real
scan -> catalog -> load path of the main window as `sightline view --screenshot` does, the view grid grabbed
at a fixed size and compared with the PNGs in tests/app/reference_png/.

The comparison tolerates small differences (glyph rasterisation and antialiasing vary between FreeType
builds; the annotation font is unhinted, so the machine's hinting settings do not matter): the mean absolute
difference must stay below MEAN_TOLERANCE grey levels and at most DIFFERING_FRACTION of the pixels may differ
by more than PIXEL_TOLERANCE. A machine without the DejaVu Sans font the views use fails. The 3D view is left
out: volume rendering differs between OpenGL implementations far beyond that. On a mismatch the actual image
and an amplified difference image are written under tests/artifacts/regression/. After an intended change of
the drawing, regenerate with

    SIGHTLINE_UPDATE_REFERENCE=1 xvfb-run -a python -m pytest tests/app/test_image_regression.py

and look at every changed PNG before committing it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from tests.app.conftest import ARTIFACTS

REFERENCE = Path(__file__).parent / "reference_png"
UPDATE_VARIABLE = "SIGHTLINE_UPDATE_REFERENCE"
MEAN_TOLERANCE = 1.5  # grey levels, over all pixels and channels
PIXEL_TOLERANCE = 48  # a pixel differs when one of its channels is off by more than this
DIFFERING_FRACTION = 0.01  # share of pixels allowed to differ (glyph edges)


@dataclass(frozen=True)
class Shot:
    """One reference scene: a sample study in a layout at a fixed grid size, set up by ``prepare``."""

    study: str
    layout: str
    size: tuple[int, int]
    prepare: Callable[[object, Path], None] | None = None  # (main window, study folder): crosshair, layers


def _heart_mediastinum(window, study: Path) -> None:
    truth = json.loads((study / "ground_truth.json").read_text())
    window.model.set_crosshair(np.array(truth["heart_centre_lps"]))
    window.model.apply_preset(3)  # mediastinum 350/50


def _prostate_zones(window, study: Path) -> None:
    from app.viewer_model.layers import LabelLayer
    from engine.nifti import read_nifti
    from engine.volume import Label, LabelMap

    truth = json.loads((study / "ground_truth.json").read_text())
    zones = read_nifti(study / truth["label_map"])
    colours = {1: (80, 170, 255), 2: (255, 200, 60), 3: (255, 60, 60)}
    labels = [Label(int(value), name, colours[int(value)]) for value, name in truth["labels"].items()]
    window.model.add_layer(LabelLayer(LabelMap(zones.array.astype(np.uint8), zones.geometry, labels),
                                      "zones", opacity=0.4))
    window.model.set_crosshair(np.array(truth["lesion"]["centre_lps"]))


SHOTS = {
    "cardiac_ct_axial_mediastinum": Shot("cardiac_ct", "1x1", (576, 432), _heart_mediastinum),
    "chest_xray_pa": Shot("chest_xray", "1x1", (400, 400)),  # as it opens
    "prostate_mri_1x3_zones": Shot("prostate_mri", "1x3", (900, 320), _prostate_zones),
}


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The phantom studies the scenes show, written as `sightline samples` writes them but with seeds fixed
    here, so that choosing other demo samples does not change the reference images."""
    from training.phantoms.cardiac_ct import make_cardiac_ct
    from training.phantoms.chest_xray import make_chest_xray
    from training.phantoms.export import write_cardiac_ct_study, write_chest_xray_study, write_prostate_mri_study
    from training.phantoms.prostate_mri import make_prostate_mri

    out = tmp_path_factory.mktemp("phantoms")
    write_cardiac_ct_study(make_cardiac_ct(13), out / "cardiac_ct")
    write_chest_xray_study(make_chest_xray(11, nodules=3), out / "chest_xray")
    write_prostate_mri_study(make_prostate_mri(14, positive=True), out / "prostate_mri")
    return out


def grab_scene(window, qtbot, study: Path, shot: Shot) -> np.ndarray:
    """Open ``study`` as `sightline view` does, prepare the scene and grab the view grid as (h, w, 3) RGB."""
    window.model.set_layout(shot.layout)
    with qtbot.waitSignal(window.settled, timeout=60000):
        window.open_path(study)
    assert window.model.volume is not None, window.last_error
    window.model.toggle_patient_text()  # names / IDs / birth dates stay out of committed images
    assert not window.model.show_patient_text
    if shot.prepare is not None:
        shot.prepare(window, study)
    window.grid.setFixedSize(*shot.size)
    for view in window.grid.views.values():
        view.clearFocus()  # no focus frame
    qtbot.waitUntil(lambda: window.grid.size().toTuple() == shot.size)
    return to_rgb(window.grid.grab().toImage())


def to_rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()


def save_rgb(rgb: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.ascontiguousarray(rgb)
    image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], 3 * rgb.shape[1], QImage.Format_RGB888)
    assert image.save(str(path), "PNG", 0)  # quality 0: strongest compression (lossless all the same)


def difference(actual: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Mean absolute difference (grey levels) and the share of pixels off by more than PIXEL_TOLERANCE."""
    delta = np.abs(actual.astype(np.int16) - reference.astype(np.int16))
    return float(delta.mean()), float((delta.max(axis=-1) > PIXEL_TOLERANCE).mean())


@pytest.mark.parametrize("name", list(SHOTS))
def test_scene_matches_its_reference_png(window, qtbot, phantoms, name: str) -> None:
    shot = SHOTS[name]
    actual = grab_scene(window, qtbot, phantoms / shot.study, shot)
    reference_path = REFERENCE / f"{name}.png"
    if os.environ.get(UPDATE_VARIABLE) == "1":
        save_rgb(actual, reference_path)
        return
    assert reference_path.exists(), f"no reference {reference_path}; create it with {UPDATE_VARIABLE}=1"
    reference = to_rgb(QImage(str(reference_path)))
    assert actual.shape == reference.shape, f"{name}: size {actual.shape} != reference {reference.shape}"
    mean, differing = difference(actual, reference)
    if mean <= MEAN_TOLERANCE and differing <= DIFFERING_FRACTION:
        return
    out = ARTIFACTS / "regression"
    save_rgb(actual, out / f"{name}_actual.png")
    delta = np.abs(actual.astype(np.int16) - reference.astype(np.int16)).max(axis=-1)
    save_rgb(np.repeat(np.clip(delta * 4, 0, 255).astype(np.uint8)[..., None], 3, axis=-1), out / f"{name}_diff.png")
    pytest.fail(f"{name} differs from {reference_path.name}: mean {mean:.2f} (limit {MEAN_TOLERANCE}), "
                f"{differing:.2%} of pixels off by > {PIXEL_TOLERANCE} (limit {DIFFERING_FRACTION:.0%}); "
                f"see {out}/{name}_actual.png and _diff.png. If the change is intended, regenerate with "
                f"{UPDATE_VARIABLE}=1 and look at the new PNG before committing it.")


def test_comparison_tolerates_antialiasing_but_not_a_moved_image() -> None:
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (100, 100, 3)).astype(np.uint8)
    jitter = np.clip(reference.astype(int) + rng.integers(-1, 2, reference.shape), 0, 255).astype(np.uint8)
    jitter[:5, :10] = 255 - jitter[:5, :10]  # 0.5 % of the pixels: a glyph drawn differently
    mean, differing = difference(jitter, reference)
    assert mean <= MEAN_TOLERANCE and differing <= DIFFERING_FRACTION
    mean, differing = difference(np.roll(reference, 3, axis=1), reference)
    assert mean > MEAN_TOLERANCE and differing > DIFFERING_FRACTION
