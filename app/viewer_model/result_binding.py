"""Which AI results belong to the shown study (Qt-free): a result is bound to the study, series and frame of
reference it was computed on, and the viewer shows of it only what applies to the volume on screen.

Rules, applied every time another volume is shown (``display``):

- Another study (another patient, or another study of the same patient): nothing. No finding row,
  measurement, Agatston chart, similar case, warning, overlay layer, enabled export or go-to-finding of the
  result remains. The result is kept for the session (``ResultShelf``) and shows again, with the very same
  layers (opacity and visibility as the reader left them), when its study is shown again.
- The same study, another series: the lists, warnings and exports stay (same patient; exports write the
  series the result was computed on). A label map or heatmap is drawn only on the grid it lies on; finding
  markers are drawn, and a finding click moves the crosshair, only when the shown series shares the analysed
  series' frame of reference (patient coordinates then name the same place in the patient).
- An image without UIDs (an in-memory array): the result belongs to that very array only.

The study of a result is the one all its inputs (``provenance.inputs``, role -> SourceIds) and the analysed
volume name; a result whose inputs name several studies belongs to the analysed array only.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.viewer_model.layers import HeatmapLayer, LabelLayer, Layer
from engine.ai.result import AnalysisResult
from engine.analysis.exports import ExportSource
from engine.volume import SourceIds, Volume


def study_key(ids: SourceIds) -> str:
    """The study an image belongs to: its StudyInstanceUID, else its series UID (a series without a study is
    a study of its own); empty when the image names neither."""
    if ids.study_uid:
        return ids.study_uid
    return f"series:{ids.series_uid}" if ids.series_uid else ""


@dataclass
class BoundResult:
    """A result as the viewer keeps it: what its exports need (the result and the analysed volume) and its
    overlay layers, made once so that they come back as the reader left them."""

    source: ExportSource
    layers: list[Layer]

    @property
    def result(self) -> AnalysisResult:
        return self.source.result

    @property
    def study(self) -> str:
        """The study key all inputs agree on; empty when they name none or several."""
        inputs = list(self.result.provenance.inputs.values()) if self.result.provenance is not None else []
        keys = {study_key(ids) for ids in [*inputs, self.source.volume.ids]} - {""}
        return keys.pop() if len(keys) == 1 else ""


@dataclass(frozen=True)
class Display:
    """What of a result the viewer shows over a volume: ``lists`` (findings, measurements, chart, similar
    cases, warnings, provenance and exports), the overlay ``layers`` to draw, and whether a finding click
    may move the crosshair (``go_to``)."""

    lists: bool
    layers: tuple[Layer, ...]
    go_to: bool


NOTHING = Display(False, (), False)


def belongs(bound: BoundResult, volume: Volume) -> bool:
    """True when ``volume`` is of the study ``bound`` was computed on."""
    key = bound.study
    return key == study_key(volume.ids) if key else volume.array is bound.source.volume.array


def in_result_frame(bound: BoundResult, volume: Volume) -> bool:
    """True when patient coordinates of the result name the same place in ``volume``: both share a frame of
    reference, or neither has one and ``volume`` lies on the analysed grid."""
    analysed = bound.source.volume
    frame = analysed.ids.frame_of_reference_uid
    if frame or volume.ids.frame_of_reference_uid:
        return frame == volume.ids.frame_of_reference_uid
    return volume.geometry.same_grid(analysed.geometry)


def display(bound: BoundResult | None, volume: Volume | None) -> Display:
    """What of ``bound`` to show over ``volume`` (see the module docstring)."""
    if bound is None or volume is None or not belongs(bound, volume):
        return NOTHING
    if not in_result_frame(bound, volume):
        return Display(True, (), False)
    return Display(True, tuple(layer for layer in bound.layers if _fits(layer, volume)), True)


def _fits(layer: Layer, volume: Volume) -> bool:
    """Raster layers only on their own grid; markers (patient coordinates) on any volume of the frame."""
    if isinstance(layer, LabelLayer):
        return layer.label_map.geometry.same_grid(volume.geometry)
    if isinstance(layer, HeatmapLayer):
        return layer.heatmap.geometry.same_grid(volume.geometry)
    return True


class ResultShelf:
    """The latest result of each study, kept for the session."""

    def __init__(self) -> None:
        self._results: list[BoundResult] = []

    def keep(self, bound: BoundResult) -> None:
        """Keep ``bound`` as its study's result (replacing the study's earlier one)."""
        self._results = [old for old in self._results if not belongs(old, bound.source.volume)]
        self._results.append(bound)

    def for_volume(self, volume: Volume | None) -> BoundResult | None:
        """The result of ``volume``'s study, None when it has none."""
        if volume is None:
            return None
        return next((bound for bound in reversed(self._results) if belongs(bound, volume)), None)
