"""Comparison reading in the window: the Priors dock (the open patient's other studies, newest first), "compare
with prior", hanging protocols (apply, save the arrangement), drops from the study browser, links and the
offset. Everything it decides is a function of app.viewer_model (comparison, comparison_session, priors,
hanging_protocols); this class loads series as a background job and shows the outcome."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs.background import BackgroundJob, JobContext
from app.viewer_model.comparison import ComparisonGrid, Links, OtherPatientError
from app.viewer_model.comparison_session import (
    HangingPlan,
    Loaded,
    current_arrangement,
    hang,
    load_placements,
    plan,
    prior_beside_plan,
)
from app.viewer_model.hanging_protocols import (
    HangingProtocol,
    Placement,
    SeriesRule,
    arrangement_protocol,
    choose_protocol,
    load_protocols,
    save_protocol,
)
from app.viewer_model.model import ViewerModel
from app.viewer_model.priors import SeriesFacts, match_prior_series, priors, series_facts, study_facts
from app.widgets.comparison_view import ComparisonArea
from engine.catalog import Catalog, SeriesKey, StudyRow
from engine.volume import Volume

STUDY_ROLE = 0x0101


class PriorsPanel(QWidget):
    """The open patient's other catalogued studies, newest first; double-click compares with one."""

    compare = Signal(str)  # study UID

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("priors_panel")
        self.heading = QLabel("No study open")
        self.list = QListWidget(objectName="priors_list")
        self.list.itemActivated.connect(self._activated)
        self.list.itemDoubleClicked.connect(self._activated)
        self.compare_button = QPushButton("Compare with newest prior", objectName="compare_prior")
        self.retrieve_button = QPushButton("Retrieve priors from PACS…", objectName="retrieve_priors")
        buttons = QHBoxLayout()
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.retrieve_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.list)
        layout.addLayout(buttons)

    def show_priors(self, heading: str, studies: list[tuple[StudyRow, str]]) -> None:
        self.heading.setText(heading)
        self.list.clear()
        for study, match in studies:
            date = study.date
            date = f"{date[:4]}-{date[4:6]}-{date[6:]}" if len(date) == 8 else (date or "no date")
            item = QListWidgetItem(f"{date}  {study.description or '(no description)'}  —  {match}")
            item.setData(STUDY_ROLE, study.study_uid)
            self.list.addItem(item)
        self.compare_button.setEnabled(any(match != "no matching series" for _, match in studies))

    def _activated(self, item: QListWidgetItem) -> None:
        self.compare.emit(item.data(STUDY_ROLE))


class ComparisonController(QObject):
    """Owns the comparison grid and its area; ``shown_changed(bool)`` tells the window to show it or the
    MPR views."""

    shown_changed = Signal(bool)
    hung = Signal()  # a protocol / comparison was put in the grid (tests wait for it)

    def __init__(self, model: ViewerModel, catalog: Catalog, window_presets: dict, mouse_map: dict,
                 current_series: Callable[[], SeriesKey | None], show_status: Callable[[str, int], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model, self.catalog = model, catalog
        self.current_series, self.show_status = current_series, show_status
        self.grid = ComparisonGrid(window_presets)
        for viewport in self.grid.viewports:  # a series' measurements are the same in a viewport as in the views
            viewport.model.measurements.share_with(model.measurements)
        self.area = ComparisonArea(self.grid, mouse_map)
        self.area.series_dropped.connect(self.drop_series)
        model.tool_changed.connect(self._follow_tool)
        self.priors_panel = PriorsPanel()
        self.priors_panel.compare.connect(self.compare_with_study)
        self.priors_panel.compare_button.clicked.connect(lambda: self.compare_with_prior())
        self.active = False
        self.protocol: HangingProtocol | None = None
        self.protocols, self.problems = load_protocols()
        self.job = BackgroundJob("compare")
        self.job.finished.connect(self._loaded)
        self.job.failed.connect(self._failed)
        self.job.progress.connect(self._progress)
        self._pending: HangingProtocol | None = None
        model.volume_changed.connect(self._volume_changed)

    # --- what the window offers --------------------------------------------------------------------
    def preferred_plugin(self) -> str:
        """The AI plugin of the protocol that fits the open study ('' when none). Reads no file: the shown
        series' body part comes from its loaded header."""
        facts = self._shown_facts()
        if facts is None:
            return ""
        chosen = choose_protocol(self.protocols, facts, len(priors(self.catalog, facts.study_uid)))
        return chosen.ai_plugin if chosen is not None else ""

    def refresh_priors(self) -> None:
        """List the open patient's other studies, newest first, each with its series matching the open one
        (the window calls it when loading has settled)."""
        shown = self._shown_facts()
        if shown is None:
            self.priors_panel.show_priors("No study open" if self.model.volume is None
                                          else "The open series is not in the catalog", [])
            return
        listed = []
        for study in priors(self.catalog, shown.study_uid):
            match = match_prior_series(shown, study_facts(self.catalog, study.study_uid))
            listed.append((study, f"{match.modality} {match.description}" if match else "no matching series"))
        patient = self.catalog.study(shown.study_uid).patient
        heading = f"Priors of {patient.patient_name.replace('^', ' ').strip() or patient.patient_id}: {len(listed)}"
        self.priors_panel.show_priors(heading, listed)

    def _shown_facts(self) -> SeriesFacts | None:
        key, volume = self.current_series(), self.model.volume
        if key is None or volume is None or volume.ids.series_uid != key.series_uid:
            return None
        rows = [row for row in self.catalog.series_by_uid(key.series_uid) if row.key == key]
        if not rows:
            return None
        return series_facts(self.catalog, rows[0], str(volume.meta.get("BodyPartExamined", "") or ""))

    # --- hanging -----------------------------------------------------------------------------------
    def compare_with_prior(self) -> bool:
        """Put the matching series of the newest prior that has one beside the open series."""
        key = self._open_key()
        if key is None:
            return False
        found = prior_beside_plan(self.catalog, key)
        if found is None:
            self.show_status("No prior of this patient has a matching series in the catalog", 8000)
            return False
        self._start(found)
        return True

    def compare_with_study(self, study_uid: str) -> bool:
        """Put the matching series of one prior study beside the open series."""
        key = self._open_key()
        if key is None:
            return False
        shown = self._shown_facts()
        if shown is None:
            return False
        match = match_prior_series(shown, study_facts(self.catalog, study_uid))
        if match is None:
            self.show_status("That study has no series matching the open one", 8000)
            return False
        rules = [SeriesRule(), SeriesRule("prior", 0, "match")]
        protocol = arrangement_protocol("Current vs prior", "1x2", rules, shown, Links(True, True, True))
        label = f"Prior {_date(self.catalog.study(study_uid).date)}"
        self._start(HangingPlan(protocol, [Placement(0, rules[0], shown, "Current"),
                                           Placement(1, rules[1], match, label)]))
        return True

    def apply_protocol(self, protocol_id: str | None = None) -> bool:
        """Hang the open study by the named protocol, else by the best matching one."""
        key = self._open_key()
        if key is None:
            return False
        try:
            found = plan(self.catalog, key, self.protocols, protocol_id)
        except KeyError as error:
            self.show_status(str(error).strip("'\""), 8000)
            return False
        if found is None:
            self.show_status("No hanging protocol fits this study", 8000)
            return False
        if not found.comparison:  # one viewport with the open series: the MPR views, the protocol's window
            self.close_comparison()
            rule = found.placements[0].rule
            if rule.window_preset:
                from app.viewer_model.comparison_session import apply_named_preset

                apply_named_preset(self.model, rule.window_preset)
            self.protocol = found.protocol
            self.show_status(f"Hanging protocol: {found.protocol.name}", 5000)
            self.hung.emit()
            return True
        self._start(found)
        return True

    def choose_protocol(self) -> bool:
        """Pick any protocol by name and hang the open study by it."""
        if self._open_key() is None or not self.protocols:
            return False
        names = [f"{p.name}{' (mine)' if p.user else ''}" for p in self.protocols]
        name, ok = QInputDialog.getItem(None, "Hanging protocol", "Protocol:", names, 0, False)
        if not ok:
            return False
        return self.apply_protocol(self.protocols[names.index(name)].id)

    def leave(self) -> None:
        """The reader chose an MPR layout: back to the views."""
        if self.active:
            self.close_comparison()

    def save_arrangement(self, name: str | None = None) -> str:
        """Save the comparison grid as the reader's protocol (asks for a name when none is given)."""
        key = self._open_key()
        if key is None or not self.active:
            self.show_status("Arrange series in the comparison layout first", 8000)
            return ""
        if name is None:
            name, ok = QInputDialog.getText(None, "Save hanging protocol", "Protocol name:")
            if not ok or not name.strip():
                return ""
        try:
            protocol = current_arrangement(self.grid, self.catalog, key, name,
                                           self.protocol.ai_plugin if self.protocol else "")
            path = save_protocol(protocol)
        except (ValueError, OSError) as error:
            self.show_status(f"Not saved: {error}", 10000)
            return ""
        self.protocols, self.problems = load_protocols()
        self.show_status(f"Saved hanging protocol {protocol.name!r} to {path}", 8000)
        return str(path)

    def drop_series(self, index: int, key: SeriesKey) -> None:
        """A series dragged from the browser onto viewport ``index`` (another patient's is refused)."""
        info = self.catalog.series_info(SeriesKey(*key))
        from engine.volume import SourceIds

        probe = Volume(np.zeros((1, 1, 1), np.int16), _unit_geometry(), info.modality,
                       SourceIds(info.study_uid, info.series_uid, info.frame_of_reference_uid),
                       {"patient": dict(info.patient)})
        try:
            self.grid.check_patient(probe, index)
        except OtherPatientError as error:
            self.show_status(str(error), 15000)
            return
        study = self.catalog.study(info.study_uid)
        label = "Current" if study is not None and self.model.volume is not None and \
            study.study_uid == self.model.volume.ids.study_uid else f"Prior {_date(study.date) if study else ''}"
        placement = Placement(index, SeriesRule(), series_facts(self.catalog, next(
            row for row in self.catalog.series_by_uid(key.series_uid) if row.key == SeriesKey(*key))), label)
        self._pending = None
        self.job.start(partial(self._load_one, placement))
        self._show(True)

    def link_here(self, index: int | None = None) -> None:
        """L: the active viewport and the reference show the same anatomy: link their frames here."""
        index = self.grid.active if index is None else index
        try:
            offset = self.grid.link_here(index)
        except ValueError as error:
            self.show_status(str(error), 8000)
            return
        self.show_status(f"Linked: offset {offset[0]:+.1f}, {offset[1]:+.1f}, {offset[2]:+.1f} mm", 8000)

    def next_orientation(self, index: int | None = None) -> str:
        """The active viewport's plane: axial -> coronal -> sagittal (its slices then cut the others)."""
        index = self.grid.active if index is None else index
        if not self.active or self.grid.viewports[index].volume is None:
            self.show_status("Show a series in the comparison layout first", 5000)
            return ""
        plane = self.grid.next_orientation(index)
        self.show_status(f"Viewport {index + 1}: {plane}", 3000)
        return plane

    def active_model(self) -> ViewerModel:
        """The model the reader works in: the active viewport's while the comparison is shown."""
        return self.grid.viewports[self.grid.active].model if self.active else self.model

    def _follow_tool(self) -> None:
        """One left-button tool for the whole window: the viewports use the tool the reader picked."""
        for viewport in self.grid.viewports:
            viewport.model.set_tool(self.model.tool)

    def edit_offset(self) -> None:
        """Type the offset of the active viewport's frame of reference (mm, x y z)."""
        index = self.grid.active
        current = self.grid.offset(index)
        text, ok = QInputDialog.getText(None, "Link offset", "Offset of this viewport (x y z, mm):",
                                        text=" ".join(f"{v:g}" for v in current))
        if not ok:
            return
        try:
            values = np.array([float(v) for v in text.replace(",", " ").split()])
            self.grid.set_offset(index, values)
        except ValueError as error:
            self.show_status(f"Offset not set: {error}", 8000)

    def toggle_link(self, name: str) -> None:
        state = self.grid.toggle_link(name)
        words = {"scroll": "Linked scrolling", "zoom_pan": "Linked zoom / pan", "window": "Linked window / level"}
        self.show_status(f"{words[name]} {'on' if state else 'off'}", 4000)

    def set_layout(self, layout: str) -> None:
        self.grid.set_layout(layout)
        self._show(True)

    def close_comparison(self) -> None:
        self.job.cancel()
        if self.active or self.grid.filled():
            self.grid.clear()
        self._show(False)

    # --- loading -----------------------------------------------------------------------------------
    def _open_key(self) -> SeriesKey | None:
        key = self.current_series()
        if key is None or self.model.volume is None:
            self.show_status("Open a series first", 5000)
            return None
        return key

    def _start(self, hanging: HangingPlan) -> None:
        reuse = {}
        volume, key = self.model.volume, self.current_series()
        if volume is not None and key is not None and "first_slice" not in volume.meta:
            reuse[key] = volume
        self._pending = hanging.protocol
        self.show_status(f"Hanging {hanging.protocol.name}…", 0)
        self.job.start(lambda context: load_placements(self.catalog, hanging.placements, reuse,
                                                       context.progress, context.cancel))

    def _load_one(self, placement: Placement, context: JobContext) -> list[Loaded]:
        return load_placements(self.catalog, [placement], None, context.progress, context.cancel)

    def _loaded(self, job: int, loaded: list[Loaded]) -> None:
        if job != self.job.current:
            return
        if self._pending is not None:
            self.protocol = self._pending
            problems = hang(self.grid, self._pending, loaded)
            message = f"Hanging protocol: {self._pending.name}"
        else:  # one dropped series
            problems = []
            item = loaded[0]
            try:
                self.grid.set_series(item.placement.index, item.volume,
                                     f"{item.placement.label}: {item.volume.modality} "
                                     f"{item.volume.meta.get('description', '')}".strip(),
                                     series_key=tuple(item.placement.series.key))
            except ValueError as error:
                problems.append(str(error))
            message = "Series placed"
        self._show(True)
        self.show_status(message + (f" — {'; '.join(problems)}" if problems else ""), 10000)
        self.hung.emit()

    def _failed(self, job: int, message: str) -> None:
        if job == self.job.current:
            self.show_status(f"Could not hang the series: {message}", 15000)

    def _progress(self, job: int, done: int, total: int, message: str) -> None:
        if job == self.job.current:
            self.show_status(f"{message} ({done}/{total})", 0)

    def _show(self, shown: bool) -> None:
        if shown != self.active:
            self.active = shown
            self.shown_changed.emit(shown)

    def _volume_changed(self) -> None:
        """Another series opened in the main views: leave the comparison (it may be another patient)."""
        volume = self.model.volume
        if volume is not None and self.grid.filled():
            same_study = any(v.volume.ids.study_uid == volume.ids.study_uid for v in self.grid.filled())
            if not same_study or self.active:
                self.close_comparison()
        self.priors_panel.show_priors("Loading…" if volume is not None else "No study open", [])


def _unit_geometry():  # noqa: ANN202
    from engine.geometry import Geometry

    return Geometry((1, 1, 1))


def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value
