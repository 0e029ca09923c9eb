"""Wires label-map editing into the main window: routes slice-view mouse events to the Editor, redraws the
views whose slice an edit touched, journals strokes on a timer, keeps the Edit menu's texts, runs the crash
recovery offer and accepts corrections. The dock's state belongs to the shown study: opening another study
ends the session, puts the tool down and shows that study's own correction summary (if any)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from app.viewer_model.correction_summary import summary_lines
from app.viewer_model.edit_sessions import (
    open_session,
    parse_key,
    resume_on_volume,
    session_key,
    version_store,
)
from app.viewer_model.editing import STROKE_TOOLS, Editor, screen_to_voxel
from app.viewer_model.measurements import MeasurementStore
from app.viewer_model.model import ViewerModel
from app.viewer_model.plane import SlicePlane
from app.viewer_model.recovery_offer import DISCARD, RESTORE, RecoveryDecision
from app.viewer_model.result_binding import study_key
from app.widgets.editing_toolbar import EditingPanel
from engine.ai.result_json import array_sha256
from engine.catalog import Catalog, SeriesKey
from engine.editing.naming import folder_name
from engine.editing.recovery import RecoverableSession, discard, find_recoverable
from engine.paths import data_dir

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from app.widgets.window_ports import SeriesOpener, ShowStatus
    from engine.editing.accept import AcceptedCorrection

FLUSH_MS = 2000  # the engine asks for a flush at most every 5 s; strokes in progress are journalled this often
Decide = Callable[[list[RecoverableSession]], RecoveryDecision]


class EditingController(QObject):
    """The window's editing: one Editor, its panel, the flush timer and the Edit-menu state.

    It is given what it uses: the viewer model, the catalog, the series loading, a status line, the command
    runner (the panel's buttons), ``redraw`` (repaint one 2D view by name) and the parent of its dialogs."""

    started = Signal()  # an editing session began (the window raises the Editing dock)
    study_accepted = Signal(str)  # StudyInstanceUID of a catalogued study whose correction was accepted

    def __init__(self, model: ViewerModel, catalog: Catalog, series: SeriesOpener, show_status: ShowStatus,
                 run_command: Callable[[str], object], redraw: Callable[[str], None], parent: QWidget) -> None:
        super().__init__(parent)
        self.model, self.catalog, self.series = model, catalog, series
        self.show_status, self.redraw = show_status, redraw
        self._dialog_parent = parent
        self.editor = Editor(model)
        self.panel = EditingPanel(self.editor, run_command, parent)
        self.last_accepted: AcceptedCorrection | None = None
        self._accepted_sha: str | None = None
        self._pending: RecoverableSession | None = None
        self._hover: tuple[str, float, float] | None = None
        self._study: str | None = None  # study_key of the shown volume ("" when it has no UIDs)
        self._summaries: dict[str, list[str]] = {}  # study key -> its last correction summary, this session
        self._actions: dict[str, QAction] = {}
        self.flush_timer = QTimer(self)
        self.flush_timer.setInterval(FLUSH_MS)
        self.flush_timer.timeout.connect(self.flush)
        self.flush_timer.start()
        self.editor.changed.connect(self._sync)
        self.editor.voxels_changed.connect(self._redraw)
        self.measurements = model.measurements  # undo / redo act on its edits while no label map is edited
        self.measurements.changed.connect(self._sync)
        model.volume_changed.connect(self._volume_changed)
        model.layers.changed.connect(self._layers_changed)
        series.settled.connect(self._settled)

    def bind_actions(self, actions: dict[str, QAction]) -> None:
        """Keep the Edit menu's actions in step with the history and the tool (called once they exist)."""
        self._actions = actions
        for command_id in ("edit.brush", "edit.eraser", "edit.threshold", "edit.fill", "edit.pick"):
            actions[command_id].setCheckable(True)
        for action in actions.values():
            if action.shortcutContext() == Qt.WidgetWithChildrenShortcut and action.objectName().startswith("edit."):
                self.panel.addAction(action)
        self.panel.show_keys(actions)
        self._sync()

    # --- commands ----------------------------------------------------------------------------------
    def start_editing(self) -> bool:
        """Edit the shown volume's label map (resumed, the top label layer, or a new one); False without one."""
        if self.editor.editing:
            return True
        if self.model.volume is None:
            self.show_status("Open a series before editing labels", 5000)
            return False
        layer, session = open_session(self.model)
        self.editor.attach(layer, session, session_key(self.model))
        self._accepted_sha = None
        self.started.emit()
        return True

    def use_tool(self, tool: str) -> None:
        """b / e / … : pick up an editing tool (starting a session on the shown volume if needed)."""
        if self.start_editing():
            self.editor.set_tool(tool)

    def run(self, action: Callable[[], object]) -> None:
        """Run an editing action once a session exists (menu items and panel buttons)."""
        if self.start_editing():
            action()

    def undo(self) -> None:
        """Ctrl+Z: the label map's last edit while it is being edited, else the last measurement edit."""
        if self.editor.editing:
            self.editor.undo()
        elif self.measurements.undo():
            self.show_status(f"Undone: {self.measurements.redo_text().removeprefix('Redo ')}", 3000)

    def redo(self) -> None:
        if self.editor.editing:
            self.editor.redo()
        elif self.measurements.redo():
            self.show_status(f"Redone: {self.measurements.undo_text().removeprefix('Undo ')}", 3000)

    def watch_measurements(self, store: MeasurementStore) -> None:
        """Undo / redo the measurement edits of ``store`` (the active viewport's series) from now on."""
        if store is not self.measurements:
            self.measurements.changed.disconnect(self._sync)
            self.measurements = store
            store.changed.connect(self._sync)
            self._sync()

    def cancel(self) -> bool:
        """Esc: cancel the stroke in progress, else put the editing tool down."""
        return self.editor.cancel()

    def flush(self) -> None:
        """Journal the stroke in progress (timer)."""
        if self.editor.session is not None:
            self.editor.session.flush()

    def accept(self) -> AcceptedCorrection | None:
        """Save the final version, export NIfTI (+ SEG when the DICOM sources are catalogued), audit it, show
        the change summary and mark the study done in the worklist."""
        from engine.ai.dicom_common import ExportError  # highdicom: imported on first use, not at start-up
        from engine.editing.accept import accept_correction

        editor, model = self.editor, self.model
        if not editor.editing:
            self.show_status("Nothing to accept: no label map is being edited", 5000)
            return None
        editor.release()
        study_uid = model.volume.ids.study_uid
        folder = data_dir() / "corrections" / folder_name(study_uid or session_key(model))
        store, final, sources = version_store(model), editor.session.label_map, self._sources()
        notes = []
        try:
            try:
                accepted = accept_correction(store, final, folder, sources)
            except (ExportError, ValueError, AttributeError, TypeError) as error:
                if not sources:
                    raise
                notes.append(f"No DICOM SEG: the source images cannot carry one ({type(error).__name__}: {error})")
                accepted = accept_correction(store, final, folder, None)  # final + NIfTI + audit still
        except (ExportError, ValueError, OSError) as error:
            self.show_status(f"Could not accept the correction: {error}", 15000)
            self._summarise([f"Not accepted: {error}"])
            return None
        self.last_accepted = accepted
        self._accepted_sha = accepted.final.array_sha256
        self._summarise(summary_lines(accepted.summary) + notes)
        if study_uid and self.catalog.study(study_uid) is not None:
            self.study_accepted.emit(study_uid)
        self.show_status(f"Correction accepted: {accepted.nifti_path.parent}", 10000)
        return accepted

    def close(self) -> None:
        """Window closing: finish the stroke; keep the recovery journal only for unaccepted edits."""
        self.flush_timer.stop()
        self._detach()

    # --- crash recovery ------------------------------------------------------------------------------
    def offer_recovery(self, decide: Decide | None = None) -> RecoveryDecision | None:
        """Offer the sessions a crash left behind; ``decide`` stands in for the dialog (tests, scripts)."""
        sessions = find_recoverable()
        if not sessions:
            return None
        if decide is None:
            from app.widgets.recovery_dialog import ask_recovery

            decision = ask_recovery(sessions, self._dialog_parent)
        else:
            decision = decide(sessions)
        if decision.action == DISCARD:
            for session in decision.sessions:
                discard(session)
        elif decision.action == RESTORE:
            self.restore(decision.sessions[0])
        return decision

    def restore(self, found: RecoverableSession) -> bool:
        """Open ``found``'s series (from the catalog unless it is shown) and resume it as a label layer."""
        model = self.model
        if model.volume is not None and session_key(model) == found.key:
            return self._resume(found)
        series_uid, shape = parse_key(found.key)
        rows = [row for row in self.catalog.series_by_uid(series_uid) if tuple(row.shape) == shape]
        if not rows:
            self.show_status(f"Cannot restore: series {series_uid} is not in the catalog", 15000)
            return False
        self._pending = found
        self.series.open_series(SeriesKey(*rows[0].key))
        return True

    # --- mouse routing (called by SliceView) ---------------------------------------------------------
    def press(self, view: str, plane: SlicePlane, position: QPointF) -> bool:
        """A left press in a 2D view: True when editing took it (the view then forwards the drag)."""
        if not self.editor.takes_left_button(view):
            return False
        return self.editor.press(view, screen_to_voxel(plane, position.x(), position.y(), self.model))

    def move(self, view: str, plane: SlicePlane, position: QPointF, dragging: bool) -> None:
        """Mouse move: paint while dragging; always track the brush outline."""
        if dragging:
            self.editor.move(screen_to_voxel(plane, position.x(), position.y(), self.model))
        if self.editor.tool in STROKE_TOOLS and self.editor.editing:
            self._hover = (view, position.x(), position.y())
            self.redraw(view)

    def release(self) -> None:
        self.editor.release()

    def takes_left_button(self, view: str) -> bool:
        """Whether an editing tool is on in ``view`` (a click there edits instead of navigating)."""
        return self.editor.takes_left_button(view)

    def paint_cursor(self, painter: QPainter, view: str, plane: SlicePlane) -> None:
        """The brush outline (its radius in mm at the view's zoom, in the active label's colour)."""
        editor = self.editor
        if self._hover is None or self._hover[0] != view or editor.tool not in STROKE_TOOLS or not editor.editing:
            return
        _, x, y = self._hover
        radius = max(editor.radius_mm / plane.mm_per_pixel, 1.0)
        color = editor.layer.colors.get(editor.active_label, (255, 255, 255))
        pen = QPen(QColor(255, 255, 255) if editor.tool == "eraser" else QColor(*color))
        pen.setStyle(Qt.DashLine if editor.shape == "sphere" else Qt.SolidLine)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawEllipse(QPointF(x, y), radius, radius)

    # --- internals -----------------------------------------------------------------------------------
    def _resume(self, found: RecoverableSession) -> bool:
        resumed = resume_on_volume(self.model, found)
        if resumed is None:
            self.show_status("Cannot restore: the label map is not on this series' grid", 15000)
            return False
        self._detach()
        layer, session = resumed
        self.editor.attach(layer, session, found.key)
        self.show_status(f"Restored {found.description or found.key}", 10000)
        return True

    def _settled(self) -> None:
        pending, self._pending = self._pending, None
        model = self.model
        if pending is not None and model.volume is not None and session_key(model) == pending.key:
            self._resume(pending)

    def _summarise(self, lines: list[str]) -> None:
        """Show the correction summary, remembered for the shown study."""
        if self._study:
            self._summaries[self._study] = lines
        self.panel.show_summary(lines)

    def _volume_changed(self) -> None:
        """A new volume ends a session on a layer no longer shown; a new study (every volume without UIDs is
        one) also puts the tool down and shows that study's own summary."""
        self._layers_changed()
        key = study_key(self.model.volume.ids)
        if key and key == self._study:
            return
        self._study = key
        self.editor.set_tool(None)
        self.panel.show_summary(self._summaries.get(key, []))

    def _layers_changed(self) -> None:
        """A new volume, or the edited layer removed in the Layers dock: the session ends."""
        if self.editor.layer is not None and self.editor.layer not in list(self.model.layers):
            self._detach()

    def _detach(self) -> None:
        session = self.editor.session
        if session is None:
            return
        session.end_stroke()
        unsaved = session.history.can_undo and array_sha256(session.label_map.array) != self._accepted_sha
        self.editor.detach(keep_recovery=unsaved)

    def _sources(self) -> list[Dataset] | None:
        """The shown series' DICOM headers (a SEG references them), None when it is not catalogued."""
        from engine.analysis.headers import read_headers

        key, volume = self.series.current_series, self.model.volume
        if key is None or key.series_uid != volume.ids.series_uid:
            return None
        info = self.catalog.series_info(key)
        return read_headers(info)

    def _redraw(self, start: tuple[int, ...], shape: tuple[int, ...]) -> None:
        for view in self.editor.views_showing(start, shape):
            self.redraw(view)

    def _sync(self) -> None:
        editor, actions = self.editor, self._actions
        if actions:
            history = editor if editor.editing else self.measurements  # no label map edited: the measurements'
            actions["edit.undo"].setText(history.undo_text())
            actions["edit.undo"].setEnabled(history.can_undo)
            actions["edit.redo"].setText(history.redo_text())
            actions["edit.redo"].setEnabled(history.can_redo)
            for tool in ("brush", "eraser", "threshold", "fill", "pick"):
                actions[f"edit.{tool}"].setChecked(editor.tool == tool)
        self.panel.refresh()

