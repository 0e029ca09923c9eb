"""Drawing, selecting, moving and editing measurements, their per-series store and the reader's exports,
all without a window (the viewer model and the Qt-free export functions)."""

from __future__ import annotations

import numpy as np
import pytest

from app.viewer_model.measurements import Draft, MeasurementStore, handles, hit_test, measure
from app.viewer_model.model import ViewerModel
from app.viewer_model.reading_exports import ReadingExportError, export, key_image_index, toggle_key_image, write_png
from engine.measurement_files import MeasurementFiles
from engine.measurements import Measurement
from tests.app.conftest import cube_volume

RIGHT, DOWN = np.eye(3)[0], np.eye(3)[1]


def shown(volume=None) -> tuple[ViewerModel, object]:
    model = ViewerModel()
    model.set_volume(volume or cube_volume())
    return model, model.plane("axial", 400, 400)


def test_angle_takes_a_drag_then_a_click_and_cobb_two_drags() -> None:
    axes = (RIGHT, DOWN)
    angle = Draft("angle", "axial", np.zeros(3), axes)
    angle.drag(np.array([10.0, 0, 0]))
    assert angle.release(np.array([10.0, 0, 0])) == "more" and angle.waiting
    angle.hover(np.array([10.0, 10, 0]))  # the second arm follows the mouse
    assert np.allclose(angle.measurement.points[2], [10, 10, 0])
    angle.press(np.array([20.0, 0, 0]))
    assert angle.release(np.array([20.0, 0, 0])) == "done"
    m = measure(cube_volume(), angle.measurement)
    assert m.values["angle_deg"] == pytest.approx(180.0) and m.summary() == "180.0°"

    cobb = Draft("cobb", "axial", np.zeros(3), axes)
    assert cobb.release(np.array([10.0, 0, 0])) == "more"
    cobb.hover(np.array([50.0, 50, 0]))  # nothing moves between a Cobb angle's two lines
    assert len(cobb.measurement.points) == 2
    cobb.press(np.array([0.0, 10, 0]))
    cobb.drag(np.array([10.0, 20, 0]))
    assert cobb.release(np.array([10.0, 20, 0])) == "done"
    assert measure(cube_volume(), cobb.measurement).values["angle_deg"] == pytest.approx(45.0)

    click = Draft("ruler", "axial", np.zeros(3), axes)
    assert click.release(np.zeros(3)) == "cancel"  # a click without a drag draws nothing
    assert Draft("probe", "axial", np.zeros(3), axes).release(np.ones(3)) == "done"
    with pytest.raises(ValueError, match="unknown measurement kind"):
        Draft("lasso", "axial", np.zeros(3), axes)


def test_a_measurement_is_selected_moved_and_reshaped_by_its_handles() -> None:
    model, plane = shown()
    store = model.measurements
    z = model.crosshair[2]
    roi = store.add(measure(model.volume, Measurement("rectangle", "axial",
                                                      [np.array([-10.0, -10, z]), np.array([10.0, 10, z])],
                                                      (RIGHT, DOWN))))
    ruler = store.add(measure(model.volume, Measurement("ruler", "axial",
                                                        [np.array([-30.0, 30, z]), np.array([30.0, 30, z])])))
    slab = 2.0
    corner = handles(roi)[1]  # (10, -10): the top right corner
    x, y = plane.patient_to_pixel(corner)
    hit = hit_test(store.current, plane, slab, x + 2, y - 1)
    assert (hit.ident, hit.handle) == (roi.ident, 1)
    store.drag_handle(roi.ident, 1, np.array([20.0, -10, z]))  # widen to the right: the left edge stays
    assert roi.roi_box()[1:] == (15.0, 10.0) and np.allclose(roi.roi_box()[0], [5, 0, z])
    assert roi.values["area_mm2"] == pytest.approx(600.0)
    mid = plane.patient_to_pixel(np.array([0.0, 30, z]))
    assert hit_test(store.current, plane, slab, *mid) == type(hit)(ruler.ident, None)  # its line
    store.translate(ruler.ident, np.array([0.0, -5, 0]))
    assert np.allclose(ruler.points[0], [-30, 25, z]) and ruler.values["length_mm"] == pytest.approx(60.0)
    inside = plane.patient_to_pixel(np.array([0.0, 0, z]))
    assert hit_test(store.current, plane, slab, *inside).ident == roi.ident  # the inside moves an ROI
    assert hit_test(store.current, plane, slab, *inside, tool="ruler") is None  # a ruler starts there
    far = plane.patient_to_pixel(np.array([0.0, 0, z + 10]))
    assert hit_test(store.current, model.plane("axial", 400, 400), slab, *far) is not None
    model.set_slice("axial", model.slice_index("axial")[0] + 3)  # another slice: nothing to hit
    assert hit_test(store.current, model.plane("axial", 400, 400), slab, *inside) is None


def test_measurements_and_key_images_come_back_per_series_never_on_another_patient(tmp_path) -> None:
    files = MeasurementFiles(tmp_path)
    first = ViewerModel()
    first.measurements.files = files
    volume = cube_volume()  # series 1.2.3.4 of patient T1
    first.set_volume(volume)
    z = first.crosshair[2]
    first.measurements.add(measure(volume, Measurement("ellipse", "axial",
                                                       [np.array([-15.0, -15, z]), np.array([15.0, 15, z])],
                                                       (RIGHT, DOWN))))
    index, flagged = toggle_key_image(first)
    assert flagged and index == key_image_index(first) == 32
    other = cube_volume()
    other.ids = type(other.ids)("9.8", "9.8.7", "9.8.6")
    other.meta = {**other.meta, "patient": {"PatientID": "OTHER"}}
    first.set_volume(other)
    assert first.measurements.current == [] and first.measurements.key_images == []

    reopened = ViewerModel()  # a new session
    reopened.measurements.files = files
    reopened.set_volume(cube_volume())
    (roi,) = reopened.measurements.current
    assert roi.kind == "ellipse" and roi.values["mean"] == pytest.approx(40.0)  # re-measured on loading
    assert np.allclose(roi.points[1], [15, 15, z]) and reopened.measurements.key_images == [32]
    stranger = cube_volume()
    stranger.meta = {**stranger.meta, "patient": {"PatientID": "SOMEONE ELSE"}}  # same series UID, not T1
    reopened.set_volume(stranger)
    assert reopened.measurements.current == []
    assert "belongs to patient 'T1'" in reopened.measurements.problems[0]


def test_exports_need_the_catalogued_series_and_something_to_export(tmp_path) -> None:
    model, _ = shown()
    with pytest.raises(ReadingExportError, match="needs the DICOM series"):
        export("gsps", model, None, tmp_path / "x.dcm")
    with pytest.raises(ValueError, match="unknown export"):
        export("pdf", model, None, tmp_path / "x.dcm")
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[1, 2] = (255, 0, 0)
    path = write_png(tmp_path / "shot.png", rgb)
    import matplotlib.image

    back = matplotlib.image.imread(path)
    assert back.shape[:2] == (5, 7) and tuple(np.rint(back[1, 2, :3] * 255)) == (255, 0, 0)
    with pytest.raises(ValueError, match="uint8 RGB"):
        write_png(tmp_path / "bad.png", np.zeros((5, 7)))


def test_store_without_files_keeps_an_unsaved_volume_for_the_session() -> None:
    store = MeasurementStore()
    volume = cube_volume()
    volume.ids = type(volume.ids)()  # not from DICOM
    store.switch_series(volume)
    store.add(Measurement("probe", "axial", [np.zeros(3)]))
    store.switch_series(volume)
    assert len(store.current) == 1 and store.series_uid.startswith("unsaved:")


def test_a_refused_file_is_never_overwritten(tmp_path) -> None:
    files = MeasurementFiles(tmp_path)
    model = ViewerModel()
    model.measurements.files = files
    model.set_volume(cube_volume())
    model.measurements.add(Measurement("probe", "axial", [np.zeros(3)]))
    saved = files.path("1.2.3.4").read_text()
    stranger = cube_volume()
    stranger.meta = {**stranger.meta, "patient": {"PatientID": "SOMEONE ELSE"}}
    model.set_volume(stranger)
    model.measurements.add(Measurement("probe", "axial", [np.ones(3)]))
    assert files.path("1.2.3.4").read_text() == saved


def test_an_export_reports_progress_can_be_cancelled_and_writes_atomically(tmp_path) -> None:
    from app.viewer_model.reading_exports import prepare, write
    from engine.dicom.scanner import scan
    from engine.progress import Cancelled, CancelToken
    from tests.dicom_factory import synthetic_ct_series

    datasets, geometry = synthetic_ct_series(5, 16, 16, (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    for ds in datasets:
        ds.save_as(tmp_path / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
    (series,) = scan(tmp_path).series
    volume = cube_volume()
    volume.geometry, volume.array = geometry, np.zeros(geometry.shape, np.int16)
    volume.ids = type(volume.ids)(series.study_uid, series.series_uid, series.frame_of_reference_uid)
    model = ViewerModel()
    model.set_volume(volume)
    with pytest.raises(ReadingExportError, match="no key image"):
        prepare("kos", model, series)
    toggle_key_image(model)
    request = prepare("kos", model, series)
    model.measurements.toggle_key_image(key_image_index(model))  # later edits do not change the snapshot
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        write(request, tmp_path / "out" / "kos.dcm", cancel=token)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    steps: list[tuple[int, int, str]] = []
    written = write(request, tmp_path / "out" / "kos.dcm", progress=lambda *step: steps.append(step))
    assert written.path.exists() and steps[0] == (0, 5, "reading headers") and steps[-1][:2] == (5, 5)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["kos.dcm"]  # no temp file left


def test_measurement_edits_undo_and_redo_per_series_and_are_saved(tmp_path) -> None:
    """Add, move (one drag = one step), reshape, relabel and delete are undone and redone in order; what is
    undone is what the file holds; another series has its own history."""
    model, _ = shown()
    store = model.measurements
    store.files = MeasurementFiles(tmp_path)
    model.set_volume(cube_volume())  # the store reads its files from now on
    z = model.crosshair[2]
    assert not store.can_undo and store.undo_text() == "Undo" and not store.undo()
    ruler = store.add(measure(model.volume, Measurement("ruler", "axial", [np.array([0.0, 0, z]),
                                                                             np.array([10.0, 0, z])])))
    assert store.undo_text() == "Undo Add ruler"
    for _ in range(5):  # a drag: five moves while the button is down, saved when it goes up
        store.translate(ruler.ident, np.array([1.0, 0, 0]), save=False)
    store.translate(ruler.ident, np.array([1.0, 0, 0]), save=True)
    store.drag_handle(ruler.ident, 1, np.array([26.0, 0, z]))
    assert store.find(ruler.ident).values["length_mm"] == pytest.approx(20.0)
    store.translate(ruler.ident, np.zeros(3))  # a click on it that moved nothing is no step
    arrow = store.add(measure(model.volume, Measurement("arrow", "axial", [np.array([0.0, 0, z]),
                                                                             np.array([5.0, 5, z])], text="a")))
    store.set_text(arrow.ident, "cyst")
    store.remove(ruler.ident)
    names = [step.name for step in store.history.undo]
    assert names == ["Add ruler", "Move ruler", "Reshape ruler", "Add arrow", "Relabel arrow", "Delete ruler"]

    def saved() -> list[dict]:
        return [m.to_json() for m in MeasurementFiles(tmp_path).load(model.volume.ids.series_uid, "").measurements]

    assert store.undo()  # the ruler is back, selectable by its ident, and saved
    assert store.find(ruler.ident) is not None and len(saved()) == 2
    assert store.undo() and store.find(arrow.ident).text == "a"
    assert store.undo() and store.find(arrow.ident) is None
    assert store.undo() and store.find(ruler.ident).values["length_mm"] == pytest.approx(10.0)  # recomputed
    assert np.allclose(store.find(ruler.ident).points[1], [16, 0, z])
    assert store.undo() and np.allclose(store.find(ruler.ident).points[0], [0, 0, z])
    assert store.redo_text() == "Redo Move ruler"
    assert store.redo() and np.allclose(store.find(ruler.ident).points[0], [6, 0, z])
    assert saved()[0]["points"][0][0] == pytest.approx(6.0)
    store.add(measure(model.volume, Measurement("probe", "axial", [np.array([0.0, 0, z])])))
    assert not store.can_redo  # a new edit drops what was undone

    other = cube_volume()
    other.ids = type(other.ids)(other.ids.study_uid, "1.2.3.999", other.ids.frame_of_reference_uid)
    model.set_volume(other)
    assert not store.can_undo  # another series: its own (empty) history
    model.set_volume(cube_volume())
    assert store.undo_text() == "Undo Add probe"


def test_key_images_of_a_split_series_stay_with_their_stack(tmp_path) -> None:
    """Two echoes at the same positions: one SeriesInstanceUID, two stacks, one measurements file. Key images
    are kept by the acquired image's SOPInstanceUID, so each stack shows only its own."""
    from pydicom.uid import generate_uid

    from engine.dicom.loader import load_series
    from engine.dicom.scanner import scan
    from tests.test_dicom_scan import make_slice, write_series

    uid = generate_uid()
    write_series(tmp_path / "mr", [make_slice((0.0, 0.0, 2.0 * k), 10 * echo + k, uid, modality="MR",
                                              EchoNumbers=echo, PatientID="P7") for echo in (1, 2) for k in range(4)])
    first_echo, second_echo = scan(tmp_path / "mr").series
    assert first_echo.series_uid == second_echo.series_uid and second_echo.stack_index == 1
    echo1, echo2 = load_series(first_echo), load_series(second_echo)
    files = MeasurementFiles(tmp_path / "measurements")
    model = ViewerModel()
    model.measurements.files = files
    model.set_volume(echo1)
    assert model.measurements.toggle_key_image(2)
    model.set_volume(echo2)
    assert model.measurements.key_images == []  # echo 1's image 3 is not echo 2's
    assert model.measurements.toggle_key_image(1)
    assert model.measurements.key_images == [1]
    model.set_volume(echo1)
    assert model.measurements.key_images == [2]
    stored = files.load(uid, model.measurements.patient_id).key_images
    assert stored == sorted([first_echo.instances[2].sop_instance_uid, second_echo.instances[1].sop_instance_uid])

    reopened = ViewerModel()  # the next session, echo 2 first
    reopened.measurements.files = files
    reopened.set_volume(load_series(second_echo))
    assert reopened.measurements.key_images == [1]
    assert not reopened.measurements.toggle_key_image(1)  # unflagged in echo 2 only
    reopened.set_volume(load_series(first_echo))
    assert reopened.measurements.key_images == [2]
