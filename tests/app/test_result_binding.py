"""Which AI results belong to the shown study, without a window: another study shows nothing; another series
of the same study keeps the lists but draws raster layers only on their own grid and markers / go-to only in
the analysed frame of reference; images without UIDs own only their own results; the shelf keeps the latest
result per study."""

from __future__ import annotations

import numpy as np

from app.viewer_model.ai_results import result_layers
from app.viewer_model.layers import HeatmapLayer, LabelLayer, MarkerLayer
from app.viewer_model.result_binding import NOTHING, BoundResult, ResultShelf, display, study_key
from engine.ai.result import AnalysisResult, Finding, Provenance
from engine.analysis.exports import ExportSource
from engine.geometry import Geometry
from engine.volume import Heatmap, Label, LabelMap, SourceIds, Volume

GRID = Geometry((8, 16, 16), (1.0, 1.0, 2.0))
OTHER_GRID = Geometry((4, 16, 16), (1.0, 1.0, 4.0))  # same place, thicker slices: another series' grid
STUDY_A, STUDY_B = "1.2.840.1", "1.2.840.2"


def volume(study: str = STUDY_A, series: str = "1.1", frame: str = "9.1", geometry: Geometry = GRID) -> Volume:
    return Volume(np.zeros(geometry.shape, np.int16), geometry, "MR", SourceIds(study, series, frame), {})


def bound_result(analysed: Volume, inputs: dict[str, SourceIds] | None = None) -> BoundResult:
    """A result with a heatmap, a label map and one finding on ``analysed``'s grid, as the AI panel binds it."""
    geometry = analysed.geometry
    result = AnalysisResult(
        findings=[Finding.at(geometry, (4.0, 8.0, 8.0), "lesion", 0.95, "high")],
        label_map=LabelMap(np.ones(geometry.shape, np.uint8), geometry, [Label(1, "lesion")]),
        heatmap=Heatmap(np.zeros(geometry.shape, np.float32), geometry),
        provenance=Provenance("p", "1", {}, "1.0", [], "2024-01-01T00:00:00Z", 0.1,
                              inputs if inputs is not None else {"image": analysed.ids}))
    source = ExportSource(result, analysed, None, "AI")
    return BoundResult(source, result_layers(result, geometry, "AI"))


def layer_kinds(shown) -> list[type]:
    return [type(layer) for layer in shown.layers]


def test_the_analysed_series_shows_everything() -> None:
    analysed = volume()
    bound = bound_result(analysed)
    shown = display(bound, analysed)
    assert shown.lists and shown.go_to
    assert layer_kinds(shown) == [HeatmapLayer, LabelLayer, MarkerLayer]
    assert list(shown.layers) == bound.layers  # the very layers, so the reader's settings come back


def test_another_study_shows_nothing_even_on_the_same_grid_and_frame() -> None:
    bound = bound_result(volume())
    assert display(bound, volume(study=STUDY_B)) == NOTHING
    assert display(bound, volume(study=STUDY_B, series="1.1", frame="9.1")) == NOTHING
    assert display(bound, None) == NOTHING
    assert display(None, volume()) == NOTHING


def test_another_series_of_the_study_on_the_same_grid_draws_every_layer() -> None:
    bound = bound_result(volume(series="1.1"))
    shown = display(bound, volume(series="1.2"))
    assert shown.lists and shown.go_to and layer_kinds(shown) == [HeatmapLayer, LabelLayer, MarkerLayer]


def test_another_grid_of_the_frame_keeps_markers_but_no_raster_layers() -> None:
    bound = bound_result(volume(series="1.1"))
    shown = display(bound, volume(series="1.3", geometry=OTHER_GRID))
    assert shown.lists and shown.go_to
    assert layer_kinds(shown) == [MarkerLayer]


def test_another_frame_of_reference_keeps_the_lists_only() -> None:
    bound = bound_result(volume(series="1.1", frame="9.1"))
    shown = display(bound, volume(series="1.4", frame="9.2"))
    assert shown.lists and not shown.go_to and shown.layers == ()
    no_frame = display(bound, volume(series="1.5", frame=""))  # a frame on one side only is not the same frame
    assert no_frame.lists and not no_frame.go_to and no_frame.layers == ()


def test_without_frames_the_analysed_grid_decides() -> None:
    bound = bound_result(volume(frame=""))
    assert display(bound, volume(series="1.2", frame="")).go_to
    assert not display(bound, volume(series="1.3", frame="", geometry=OTHER_GRID)).go_to


def test_images_without_uids_own_only_their_own_array() -> None:
    analysed = volume(study="", series="", frame="")
    bound = bound_result(analysed)
    assert bound.study == "" and display(bound, analysed).lists
    assert display(bound, volume(study="", series="", frame="")) == NOTHING  # same grid, another array


def test_a_series_without_a_study_is_its_own_study() -> None:
    bound = bound_result(volume(study="", series="7.7"))
    assert bound.study == study_key(SourceIds("", "7.7")) == "series:7.7"
    assert display(bound, volume(study="", series="7.7")).lists
    assert display(bound, volume(study="", series="7.8")) == NOTHING


def test_the_study_comes_from_the_provenance_inputs() -> None:
    analysed = volume(study="", series="", frame="")  # e.g. an array resampled from the inputs
    bound = bound_result(analysed, {"T1": SourceIds(STUDY_A, "1.1", "9.1"), "T2": SourceIds(STUDY_A, "1.2", "9.1")})
    assert bound.study == STUDY_A and display(bound, volume(series="1.2")).lists
    mixed = bound_result(analysed, {"T1": SourceIds(STUDY_A, "1.1"), "T2": SourceIds(STUDY_B, "2.1")})
    assert mixed.study == ""  # inputs from two studies: the result belongs to no study but its own array
    assert display(mixed, volume(study=STUDY_A)) == NOTHING and display(mixed, volume(study=STUDY_B)) == NOTHING
    assert display(mixed, analysed).lists


def test_the_shelf_keeps_the_latest_result_of_each_study() -> None:
    shelf = ResultShelf()
    a_first, b, a_second = bound_result(volume()), bound_result(volume(study=STUDY_B)), bound_result(volume())
    for bound in (a_first, b, a_second):
        shelf.keep(bound)
    assert shelf.for_volume(volume(series="1.9")) is a_second
    assert shelf.for_volume(volume(study=STUDY_B)) is b
    assert shelf.for_volume(volume(study="1.2.840.3")) is None and shelf.for_volume(None) is None

