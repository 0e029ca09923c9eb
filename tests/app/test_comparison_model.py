"""The comparison grid, priors, hanging protocols and the AI plugin offer, without a window."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from app.viewer_model.comparison import ComparisonGrid, OtherPatientError, native_orientation
from app.viewer_model.comparison_session import current_arrangement, hang, load_placements, plan, prior_beside_plan
from app.viewer_model.hanging_protocols import (
    SHIPPED,
    choose_protocol,
    load_protocols,
    parse_protocol,
    save_protocol,
)
from app.viewer_model.orientation import SAGITTAL
from app.viewer_model.plane import SlicePlane
from app.viewer_model.priors import SeriesFacts, match_prior_series, priors
from engine.catalog import Catalog, SeriesKey
from engine.volume import SourceIds
from tests.app.comparison_phantoms import PRIOR_SHIFT, anatomy_z, current_and_prior, write_ct_study
from tests.app.conftest import cube_volume

PRESETS = json.loads((Path(__file__).resolve().parents[2] / "resources" / "window_presets.json").read_text())


def _volume(patient_id: str = "T1", name: str = "Test^Cube", study: str = "1.2.3", series: str = "1.2.3.4",
            frame: str = "1.2.3.5", shift: tuple = (0, 0, 0)):
    volume = cube_volume()
    volume.meta["patient"] = {"PatientName": name, "PatientID": patient_id}
    volume.ids = SourceIds(study, series, frame)
    geometry = volume.geometry
    volume.geometry = dataclasses.replace(geometry, origin=tuple(np.add(geometry.origin, shift)))
    return volume


def test_the_grid_refuses_a_series_of_another_patient() -> None:
    grid = ComparisonGrid(PRESETS)
    grid.set_series(0, _volume())
    with pytest.raises(OtherPatientError, match="never shown side by side"):
        grid.set_series(1, _volume(patient_id="OTHER", series="9.9", study="9"))
    with pytest.raises(OtherPatientError, match="patient name"):
        grid.set_series(1, _volume(name="Someone^Else", series="9.9", study="9"))
    assert grid.viewports[1].volume is None
    anonymous = _volume(patient_id="", name="", study="7", series="7.1")
    with pytest.raises(OtherPatientError, match="without patient ID and name"):
        grid.set_series(1, anonymous)
    grid.set_series(1, _volume(study="2.2", series="2.2.1"))  # same patient, another study: fine
    assert grid.viewports[1].volume is not None
    grid.clear()
    grid.set_series(0, _volume(patient_id="OTHER"))  # an emptied grid takes any patient
    assert grid.patient().patient_id == "OTHER"


def test_same_frame_of_reference_links_by_patient_position() -> None:
    grid = ComparisonGrid(PRESETS)
    grid.set_series(0, _volume())
    grid.set_series(1, _volume(study="2", series="2.1"))
    a, b = grid.viewports[0].model, grid.viewports[1].model
    a.step_slice("axial", 7)
    assert b.crosshair[2] == pytest.approx(a.crosshair[2])
    assert grid.link_text(1) == "Linked by position (reference)"
    grid.set_links(scroll=False)
    before = b.crosshair.copy()
    a.step_slice("axial", 3)
    assert np.allclose(b.crosshair, before)


def test_other_frame_links_by_the_readers_offset_within_half_a_slice() -> None:
    grid = ComparisonGrid(PRESETS)
    shift = np.array([6.0, -4.0, 21.0])
    grid.set_series(0, _volume())
    grid.set_series(1, _volume(study="2", series="2.1", frame="other", shift=shift))
    a, b = grid.viewports[0].model, grid.viewports[1].model
    assert "volume centres" in grid.link_text(1)
    # the reader shows the cube's centre in both views and links them there
    a.set_crosshair(np.array([40.0, 40.0, 40.0]))
    grid.set_links(scroll=False)
    b.set_crosshair(np.array([40.0, 40.0, 40.0]) + shift)
    offset = grid.link_here(1)
    assert grid.links.scroll
    assert np.allclose(offset, shift, atol=1.0)
    assert "set by reader" in grid.link_text(1) and "+21.0 mm" in grid.link_text(1)
    for steps in (-5, 3, 9):
        a.step_slice("axial", steps)
        assert abs(b.crosshair[2] - (a.crosshair[2] + shift[2])) <= 1.0 + 1e-6  # half a 2 mm slice
    b.step_slice("axial", -2)  # linked both ways
    assert abs(a.crosshair[2] - (b.crosshair[2] - shift[2])) <= 1.0 + 1e-6


def test_linked_window_and_zoom_can_be_toggled() -> None:
    grid = ComparisonGrid(PRESETS)
    grid.set_series(0, _volume())
    grid.set_series(1, _volume(study="2", series="2.1"))
    a, b = grid.viewports[0].model, grid.viewports[1].model
    grid.set_links(window=True)
    a.apply_preset(2)  # lung
    assert (b.window.width, b.window.center) == (1500, -600)
    grid.toggle_link("window")
    a.apply_preset(4)
    assert b.window.width == 1500
    a.zoom("axial", 2.0)
    assert b.cameras["axial"].mm_per_pixel == pytest.approx(a.cameras["axial"].mm_per_pixel)
    grid.toggle_link("zoom_pan")
    a.zoom("axial", 2.0)
    assert b.cameras["axial"].mm_per_pixel == pytest.approx(2 * a.cameras["axial"].mm_per_pixel)


def test_reference_line_of_a_sagittal_view_in_an_axial_view() -> None:
    grid = ComparisonGrid(PRESETS)
    grid.set_series(0, _volume())
    grid.set_series(1, _volume(study="2", series="2.1"), orientation=SAGITTAL)
    grid.viewports[1].model.set_crosshair(np.array([21.0, 0.0, 0.0]))
    plane = grid.viewports[0].model.plane("axial", 200, 200)
    lines = grid.reference_lines(0, plane)
    assert len(lines) == 1
    (x0, y0), (x1, y1) = lines[0].start, lines[0].end
    expected_x = plane.patient_to_pixel(np.array([grid.viewports[1].model.crosshair[0], 0.0, 0.0]))[0]
    assert x0 == pytest.approx(expected_x) and x1 == pytest.approx(expected_x)
    assert {round(y0), round(y1)} == {0, 199}
    assert grid.reference_lines(1, grid.viewports[1].model.plane(SAGITTAL, 100, 100))  # and back
    two_axials = ComparisonGrid(PRESETS)
    two_axials.set_series(0, _volume())
    two_axials.set_series(1, _volume(study="2", series="2.1"))
    assert two_axials.reference_lines(0, plane) == []  # parallel planes: no line
    assert isinstance(plane, SlicePlane)


def test_native_orientation_follows_the_acquisition() -> None:
    sagittal = cube_volume(direction=np.column_stack([(0.0, 1.0, 0.0), (0.0, 0.0, -1.0), (-1.0, 0.0, 0.0)]))
    assert native_orientation(sagittal.geometry) == "sagittal"
    assert native_orientation(cube_volume().geometry) == "axial"


def _facts(modality="CT", body="CHEST", description="Chest 2.5 mm", orientation="axial", n=40, uid="s"):
    return SeriesFacts(SeriesKey(uid), "study", modality, body, description, orientation, "", n)


def test_prior_series_match_modality_body_part_description_then_orientation() -> None:
    current = _facts()
    candidates = [_facts("MR", uid="mr"), _facts(body="HEAD", uid="head"),
                  _facts(description="Chest 1 mm lung", orientation="coronal", uid="coronal"),
                  _facts(description="Chest 1 mm lung", uid="axial-lung"),
                  _facts(description="Chest 2.5 mm", orientation="coronal", uid="same-text")]
    assert match_prior_series(current, candidates).key.series_uid == "same-text"
    assert match_prior_series(current, candidates[:4]).key.series_uid == "axial-lung"
    assert match_prior_series(current, candidates[:2]) is None  # other modality / body part


@pytest.fixture
def phantom_catalog(tmp_path: Path):
    from engine.dicom.scanner import scan

    current, prior = current_and_prior(tmp_path / "studies")
    older = write_ct_study(tmp_path / "studies" / "older", date="20190101", shift=(0, 0, 0), slice_mm=5.0,
                           n_slices=12, z_first=-30.0, description="Chest 5 mm")
    stranger = write_ct_study(tmp_path / "studies" / "stranger", date="20240101", shift=(0, 0, 0), slice_mm=5.0,
                              n_slices=4, z_first=0.0, patient={"PatientName": "Other^Person", "PatientID": "X9"})
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.import_scan(scan(tmp_path / "studies"))
    yield catalog, current, prior, older, stranger
    catalog.close()


def test_priors_are_the_patients_other_studies_newest_first(phantom_catalog) -> None:
    catalog, current, prior, older, stranger = phantom_catalog
    listed = priors(catalog, current.study_uid)
    assert [s.study_uid for s in listed] == [prior.study_uid, older.study_uid]  # not the stranger's study
    beside = prior_beside_plan(catalog, SeriesKey(current.series_uid))
    assert [p.series.key.series_uid for p in beside.placements] == [current.series_uid, prior.series_uid]
    assert beside.placements[1].label == "Prior 2023-09-05"


def test_current_vs_prior_protocol_hangs_the_prior_at_the_linked_anatomy(phantom_catalog) -> None:
    catalog, current, prior, _, _ = phantom_catalog
    protocols, problems = load_protocols([(SHIPPED, False)])
    assert problems == []
    hanging = plan(catalog, SeriesKey(current.series_uid), protocols)
    assert hanging.protocol.id == "ct_current_vs_prior" and hanging.comparison
    grid = ComparisonGrid(PRESETS)
    assert hang(grid, hanging.protocol, load_placements(catalog, hanging.placements)) == []
    assert grid.layout == "1x2" and grid.links.window
    a, b = grid.viewports[0].model, grid.viewports[1].model
    assert a.volume.ids.frame_of_reference_uid != b.volume.ids.frame_of_reference_uid
    grid.set_offset(1, np.array(PRIOR_SHIFT))
    a.step_slice("axial", -6)
    ruler = _ruler_voxel(a)
    shown_a = anatomy_z(float(a.volume.array[ruler]))
    shown_b = anatomy_z(float(b.volume.array[_ruler_voxel(b)]))
    assert abs(shown_a - shown_b) <= prior.slice_mm / 2 + 1e-6


def _ruler_voxel(model) -> tuple[int, int, int]:  # noqa: ANN001
    """The voxel at the centre of the ruler rod in the model's current axial slice: the one region whose
    value is neither air, water nor the ball."""
    volume = model.volume
    z = int(round(volume.patient_to_voxel(model.crosshair)[0]))
    values = volume.array[z]
    ys, xs = np.nonzero((values != -1000) & (values != 20) & (values != 300))
    assert len(ys), "the ruler rod is not in this slice"
    return z, int(round(ys.mean())), int(round(xs.mean()))


def test_shipped_protocols_pick_the_sample_workflows() -> None:
    protocols, problems = load_protocols([(SHIPPED, False)])
    assert problems == []
    by_case = {
        ("DX", "CHEST", "Chest PA", 0): "chest_xray",
        ("MR", "BRAIN", "T1", 0): "brain_mri",
        ("CT", "HEART", "Calcium Score 3.0 B35f", 0): "calcium_ct",
        ("MR", "PROSTATE", "T2 TSE axial", 0): "prostate_synthesis",
        ("CT", "CHEST", "Chest 2.5 mm", 1): "ct_current_vs_prior",
        ("MR", "BRAIN", "T1", 2): "mr_current_vs_prior",
    }
    for (modality, body, description, n_priors), expected in by_case.items():
        chosen = choose_protocol(protocols, _facts(modality, body, description), n_priors)
        assert chosen is not None and chosen.id == expected, (modality, body, description, n_priors)
    assert choose_protocol(protocols, _facts("CT", "ABDOMEN", "Abdomen"), 0) is None
    brain = next(p for p in protocols if p.id == "brain_mri")
    from app.viewer_model.hanging_protocols import resolve

    series = [_facts("MR", "BRAIN", name, uid=name) for name in ("FLAIR", "T2", "T1c", "T1")]
    placed = resolve(brain, series[3], series, [])
    assert [p.series.description for p in placed] == ["T1", "T1c", "T2", "FLAIR"]


def test_a_bad_protocol_file_is_named_and_the_others_still_load(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "bad_layout.json").write_text(json.dumps({"schema_version": 1, "id": "x", "name": "X",
                                                          "layout": "5x5", "viewports": []}))
    protocols, problems = load_protocols([(SHIPPED, False), (tmp_path, True)])
    assert len(protocols) == 6
    assert any("broken.json" in p and "JSON" in p for p in problems)
    assert any("bad_layout.json" in p and "layout must be one of" in p for p in problems)


def test_the_reader_saves_the_arrangement_as_a_protocol(phantom_catalog, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    catalog, current, _, older, _ = phantom_catalog
    protocols, _ = load_protocols([(SHIPPED, False)])
    hanging = plan(catalog, SeriesKey(current.series_uid), protocols)
    grid = ComparisonGrid(PRESETS)
    hang(grid, hanging.protocol, load_placements(catalog, hanging.placements))
    grid.set_layout("1x3")
    from engine.dicom.loader import load_series

    grid.set_series(2, load_series(catalog.series_info(SeriesKey(older.series_uid))))
    grid.set_links(window=False)
    protocol = current_arrangement(grid, catalog, SeriesKey(current.series_uid), "My chest follow-up")
    path = save_protocol(protocol)
    assert path == tmp_path / "home" / "hanging_protocols" / "my_chest_follow-up.json"
    loaded, problems = load_protocols()
    assert problems == []
    mine = next(p for p in loaded if p.id == "my_chest_follow-up")
    assert mine.user and mine.layout == "1x3" and not mine.links.window
    assert [(r.study, r.prior, r.series) for r in mine.viewports] == [
        ("current", 0, "shown"), ("prior", 0, "match"), ("prior", 1, "match")]
    again = plan(catalog, SeriesKey(current.series_uid), loaded)
    assert again.protocol.id == "my_chest_follow-up"  # the reader's own wins
    assert [p.series.key.series_uid for p in again.placements][2] == older.series_uid
    assert parse_protocol(mine.to_json(), "round trip", user=True) == dataclasses.replace(mine, source="round trip")


def test_the_ai_offer_fits_the_study_and_never_keeps_the_last_plugin() -> None:
    from app.viewer_model.plugin_offer import offer_plugin
    from engine.ai.registry import discover

    registry = discover()
    manifests = {pid: p.manifest for pid, p in registry.plugins.items() if p.manifest.kind != "synthesis"}
    complete = dict.fromkeys(manifests, True)
    ct = cube_volume()
    ct.geometry = dataclasses.replace(ct.geometry, spacing=(0.7, 0.7, 3.0))  # a calcium-score CT's grid
    ct.meta.update(BodyPartExamined="HEART", SliceThickness="3")
    assert offer_plugin(manifests, ct, complete).plugin_id == "coronary_calcium_ct"
    ct.meta["BodyPartExamined"] = "HEAD"  # calcium scoring refuses a head CT: nothing is offered
    offer = offer_plugin(manifests, ct, complete)
    assert offer.plugin_id is None and "not a" in offer.reasons["coronary_calcium_ct"]
    mr = cube_volume(modality="MR")
    mr.meta["BodyPartExamined"] = "BRAIN"
    assert offer_plugin(manifests, mr, complete, preferred="chest_xray_nodules").plugin_id == "brain_tumor_mri"
    assert offer_plugin(manifests, mr, dict.fromkeys(manifests, False)).plugin_id is None  # roles unfilled


def test_a_protocol_applies_its_window_preset(tmp_path: Path) -> None:
    from app.viewer_model.comparison_session import apply_named_preset
    from app.viewer_model.model import ViewerModel
    from engine.dicom.loader import load_series
    from engine.dicom.scanner import scan

    study = write_ct_study(tmp_path / "calcium", date="20250101", shift=(0, 0, 0), slice_mm=3.0, n_slices=4,
                           z_first=0.0, pixel_mm=0.7, size=32, body_part="HEART", description="Calcium Score 3.0",
                           patient={"PatientName": "Heart^Phantom", "PatientID": "H1"})
    with Catalog(tmp_path / "c.sqlite") as catalog:
        catalog.import_scan(scan(study.folder))
        protocols, _ = load_protocols([(SHIPPED, False)])
        hanging = plan(catalog, SeriesKey(study.series_uid), protocols)
        assert hanging.protocol.id == "calcium_ct" and not hanging.comparison
        assert hanging.protocol.ai_plugin == "coronary_calcium_ct"
        model = ViewerModel(PRESETS)
        model.set_volume(load_series(catalog.series_info(SeriesKey(study.series_uid))))
    assert apply_named_preset(model, hanging.placements[0].rule.window_preset)
    assert (model.window.width, model.window.center) == (350, 50)
    assert not apply_named_preset(model, "No such preset")
