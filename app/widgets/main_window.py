"""The main window: viewer grid in the centre; study browser, layers, measurements and AI docks around it;
menus, toolbar and shortcuts from the command registry; loading with progress and Cancel in the status bar.

It is the composition root of the window: each part gets what it uses (the viewer model, the catalog, a status
line, a SeriesOpener, the callables its commands bind), and no part imports this module."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QWidget,
)

from app.actions.comparison import COMPARISON_CONTEXT, VIEWPORT_COMMANDS, register_comparison_commands
from app.actions.editing import register_editing_commands
from app.actions.menus import DOCKS_MENU, MENUS, TOOLS
from app.actions.reading import ReadingCommands, register_reading_commands
from app.actions.reformat import register_reformat_commands
from app.actions.registry import CommandRegistry, keys_for
from app.actions.viewer import PRESET_COUNT, WindowCommands, register_viewer_commands
from app.jobs.loading import Loader
from app.jobs.thumbnails import ThumbnailLoader
from app.render.scene import Scene
from app.settings.preferences import Preferences
from app.viewer_model.model import VOLUME_3D, ViewerModel
from app.viewer_model.series_steps import step_within_patient
from app.viewer_model.volume_view_state import VolumeViewState
from app.viewer_model.window_presets import preset_menu_labels
from app.widgets.comparison_controller import ComparisonController
from app.widgets.editing_controller import EditingController
from app.widgets.layer_list_dock import LayerListDock
from app.widgets.measurements_dock import MeasurementsDock
from app.widgets.reading_actions import ReadingActions
from app.widgets.receive_toggle import ReceiveToggle
from app.widgets.slice_view import SliceView
from app.widgets.study_browser import StudyBrowser
from app.widgets.theme import apply_theme
from app.widgets.viewer_grid import ViewerGrid
from app.widgets.volume_view import VolumeView
from app.widgets.welcome import install_welcome
from app.widgets.worklist_dock import WorklistDock
from engine.catalog import Catalog, SeriesKey
from engine.measurement_files import MeasurementFiles
from engine.volume import Volume

if TYPE_CHECKING:
    from app.widgets.ai_panel import AiPanel
    from engine.ai.registry import PluginRegistry
    from engine.dicom.scanner import ScanReport
    from engine.series import SeriesInfo

CINE_FPS = 15
AI_PANEL_DELAY_MS = 300  # the AI panel is built this long after the window is constructed
_CONTEXT_SHORTCUT = {"global": Qt.WindowShortcut, "viewer": Qt.WidgetShortcut,
                     "3d": Qt.WidgetWithChildrenShortcut, "editing": Qt.WidgetWithChildrenShortcut,
                     "comparison": Qt.WidgetShortcut}


class MainWindow(QMainWindow):
    """Sightline's reading window."""

    settled = Signal()  # loading ended (loaded, failed, cancelled or nothing to load)

    def __init__(self, preferences: Preferences, catalog: Catalog) -> None:
        super().__init__()
        self.setWindowTitle("Sightline — research software, not for clinical use")
        self.preferences, self.catalog = preferences, catalog
        apply_theme(preferences.get("appearance").get("theme", "dark"))  # dark unless the reader chose light
        self.model = ViewerModel(preferences.get("window_presets"))
        self.scene = Scene(self.model)
        self.model.measurements.files = MeasurementFiles(catalog.path.parent / "measurements")  # kept per series
        self.volume_state = VolumeViewState(preferences.get("volume_presets")["presets"])
        self.current_series: SeriesKey | None = None
        self.last_error = ""
        self.browser = StudyBrowser(catalog, self)
        self.browser.series_chosen.connect(self.open_series)
        self.layers_dock = LayerListDock(self.model.layers, self)
        self.measurements_dock = MeasurementsDock(self.model.measurements, self)
        self._ai_panel: AiPanel | None = None
        self._ai_area = _scroll_area()
        self._plugin_registry: PluginRegistry | None = None
        self._plugin_areas: dict[str, QScrollArea] | None = None  # plugin id -> its dock's area, once added
        self._plugin_panels: dict[str, QWidget] = {}
        self.docks = {
            "browser": self._dock("Studies", self.browser, Qt.LeftDockWidgetArea),
            "layers": self._dock("Layers", self.layers_dock, Qt.RightDockWidgetArea),
            "measurements": self._dock("Measurements", self.measurements_dock, Qt.RightDockWidgetArea),
            "ai": self._dock("AI", self._ai_area, Qt.RightDockWidgetArea),
        }
        self.docks["browser"].setMinimumWidth(320)
        self.tabifyDockWidget(self.docks["layers"], self.docks["measurements"])
        self.docks["layers"].raise_()
        self.docks["ai"].setMinimumWidth(360)
        self.browser.tree.setColumnWidth(0, 230)
        self.registry = CommandRegistry()
        self.editing = EditingController(self.model, catalog, series=self, show_status=self.show_status,
                                         run_command=self.registry.run, redraw=self._redraw_view, parent=self)
        self.worklist = WorklistDock(catalog, self.model, series=self, show_status=self.show_status, parent=self)
        self.receiver = ReceiveToggle(preferences.store, catalog, show_status=self.show_status,
                                      refresh=self._refresh_studies, parent=self)
        self.docks["editing"] = self._dock("Editing", self.editing.panel, Qt.RightDockWidgetArea)
        self.editing.started.connect(self.docks["editing"].raise_)
        self.editing.study_accepted.connect(self.worklist.mark_done)
        self.docks["worklist"] = self._dock("Worklist", self.worklist, Qt.LeftDockWidgetArea)
        self.tabifyDockWidget(self.docks["browser"], self.docks["worklist"])
        self.docks["browser"].raise_()
        self.tabifyDockWidget(self.docks["ai"], self.docks["editing"])
        self.docks["ai"].raise_()
        self.comparison = ComparisonController(self.model, catalog, preferences.get("window_presets"),
                                               preferences.get("mouse_map"), lambda: self.current_series,
                                               self.show_status, self)
        self.docks["priors"] = self._dock("Priors", self.comparison.priors_panel, Qt.LeftDockWidgetArea)
        self.comparison.priors_panel.retrieve_button.clicked.connect(self.show_query_retrieve)
        self.settled.connect(self.comparison.refresh_priors)  # header reads wait until loading is done
        self.settled.connect(self._raise_protocol_plugin_dock)
        self._status()
        self.loader = Loader(catalog)
        self._connect_loader()
        self.thumbnails = ThumbnailLoader(catalog)
        self.thumbnails.ready.connect(self.browser.set_thumbnail)
        self.cine = QTimer(self)
        self.cine.setInterval(1000 // CINE_FPS)
        self.cine.timeout.connect(self._cine_step)
        self._register_commands()
        self.actions_by_id: dict[str, QAction] = {}
        self._build_actions()
        self.actions_by_id["view.magnifier"].setAutoRepeat(False)  # held down: on until the key is let go
        self.comparison.area.set_actions([self.actions_by_id[command.id] for command in self.registry
                                          if command.id in VIEWPORT_COMMANDS
                                          or command.context == COMPARISON_CONTEXT])
        self.grid = ViewerGrid(self.model, self._make_view, self)
        self.setCentralWidget(self.grid)
        self.comparison.shown_changed.connect(
            lambda shown: self.grid.show_comparison(self.comparison.area if shown else None))
        self.model.layout_changed.connect(self.comparison.leave)
        self.comparison.shown_changed.connect(lambda _shown: self._follow_active_model())
        self.comparison.grid.active_changed.connect(self._follow_active_model)
        self._build_menus()
        install_welcome(self, preferences.store, self.open_path, catalog, self.refresh_catalog)  # Help > Welcome; once
        self.editing.bind_actions(self.actions_by_id)
        self.measurements_dock.addActions([self.actions_by_id["edit.undo"], self.actions_by_id["edit.redo"]])
        self._name_presets()
        self.receiver.bind_action(self.actions_by_id["file.receive"])
        self.preferences.changed.connect(self._preferences_changed)
        self.model.volume_changed.connect(self._volume_changed)
        self.setAcceptDrops(True)
        self.resize(1600, 1000)
        self.refresh_catalog()
        QTimer.singleShot(AI_PANEL_DELAY_MS, self, self._build_ai_panel)  # cancelled if the window dies

    @property
    def ai_panel(self) -> AiPanel:
        """The AI dock's panel, built on first use or just after the window shows: its engine.ai imports
        (ONNX Runtime, highdicom, scipy) take about half a second that the first paint does not wait for."""
        if self._ai_panel is None:
            from app.widgets.ai_panel import AiPanel

            self._ai_panel = AiPanel(self.model, self.catalog, self.plugin_registry, self)
            self._ai_panel.preferred_plugin = self.comparison.preferred_plugin  # the hanging protocol's choice
            self._ai_panel.offer_plugin()
            self._ai_area.setWidget(self._ai_panel)
        return self._ai_panel

    @property
    def plugin_registry(self) -> PluginRegistry:
        """The discovered plugins (manifests only: no plugin code, no model), read after the first paint."""
        if self._plugin_registry is None:
            from engine.ai.registry import discover

            self._plugin_registry = discover()
        return self._plugin_registry

    def plugin_panel(self, plugin_id: str) -> QWidget:
        """The panel of a plugin's own dock (manifest ``[host] dock``: built with the AI panel, after the first
        paint, as ``Class(plugin, open_path, parent)``; it opens what it makes through ``open_path``)."""
        areas = self._plugin_docks()
        if plugin_id not in self._plugin_panels:
            plugin = self.plugin_registry.get(plugin_id)
            panel = plugin.host_object(plugin.manifest.host.dock)(plugin, self.open_path, self)
            self._plugin_panels[plugin_id] = panel
            areas[plugin_id].setWidget(panel)
        return self._plugin_panels[plugin_id]

    def _plugin_docks(self) -> dict[str, QScrollArea]:
        """Add, once, a dock for each plugin whose manifest declares one (e.g. Synthesis), tabbed behind the AI
        dock (the tab on top stays on top); returns plugin id -> the dock's scroll area."""
        if self._plugin_areas is None:
            on_top = [dock for dock in (self.docks["ai"], self.docks["editing"]) if not dock.visibleRegion().isEmpty()]
            self._plugin_areas = {}
            for plugin in self.plugin_registry.plugins.values():
                if plugin.manifest.host.dock:
                    area = self._plugin_areas[plugin.id] = _scroll_area()
                    self.docks[plugin.id] = self._dock(plugin.manifest.host.dock_title, area, Qt.RightDockWidgetArea)
                    self.tabifyDockWidget(self.docks["ai"], self.docks[plugin.id])
                    self.docks_menu.insertAction(self.docks["editing"].toggleViewAction(),  # the menu's order
                                                 self.docks[plugin.id].toggleViewAction())
            for dock in on_top or [self.docks["ai"]]:
                dock.raise_()
        return self._plugin_areas

    def _build_ai_panel(self) -> None:
        if self.isVisible():  # a window closed meanwhile (its catalog too) builds nothing
            self.ai_panel.setVisible(True)
            for plugin_id in self._plugin_docks():
                try:
                    self.plugin_panel(plugin_id).setVisible(True)
                except Exception as error:  # a plugin whose panel cannot load must not stop the window
                    self.show_status(f"plugin {plugin_id}: {error}")

    # --- construction ------------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _status(self) -> None:
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(260)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

    def _register_commands(self) -> None:
        """Bind the viewer, editing, worklist and receiver commands to the parts that carry them out."""
        window = WindowCommands(choose_folder=self.choose_folder, choose_archive=self.choose_archive,
                                show_preferences=self.show_preferences, quit=self.close, cancel=self.cancel,
                                step_series=self.step_series, toggle_cine=self.toggle_cine, reset_3d=self.reset_3d,
                                delete_measurement=self.measurements_dock.delete_selected)
        register_viewer_commands(self.registry, self.model, self.volume_state, window, self._key_target)
        register_editing_commands(self.registry, self.model, self.editing, self.worklist, self.receiver.toggle)
        register_reformat_commands(self.registry, self.model, self.toggle_magnifier)
        self.reading = ReadingActions(self, self.model, self._reading_target, self._active_slice_view,
                                      self.show_status)
        register_reading_commands(self.registry, self.model, ReadingCommands(
            self.reading.toggle_key_image, self.reading.export, self.reading.screenshot))
        self.measurements_dock.bind_commands(self.registry.run)
        register_comparison_commands(self.registry, self.comparison, self.show_query_retrieve)

    def _follow_active_model(self) -> None:
        """The measurements dock and undo follow the active comparison viewport's series."""
        store = self.comparison.active_model().measurements
        self.measurements_dock.set_store(store)
        self.editing.watch_measurements(store)

    def _key_target(self) -> tuple[ViewerModel, str]:
        """The model and plane the 2D keys act on: the active comparison viewport while the comparison is
        shown, else the active view of the open series."""
        if self.comparison.active:
            viewport = self.comparison.grid.viewports[self.comparison.grid.active]
            return viewport.model, viewport.orientation
        return self.model, self.model.active_view

    def _current_series_info(self) -> SeriesInfo | None:
        """The catalogued series on screen (the exports read its headers)."""
        return self.catalog.series_info(self.current_series) if self.current_series is not None else None

    def _reading_target(self) -> tuple[ViewerModel, SeriesInfo | None]:
        """What key images and exports act on: the active comparison viewport's model and catalogued series
        while the comparison is shown (None when that series is not catalogued), else the open series."""
        if not self.comparison.active:
            return self.model, self._current_series_info()
        viewport = self.comparison.grid.viewports[self.comparison.grid.active]
        if viewport.series_key is None:
            return viewport.model, None
        try:
            return viewport.model, self.catalog.series_info(SeriesKey(*viewport.series_key))
        except KeyError:
            return viewport.model, None

    def _active_slice_view(self) -> SliceView | None:
        view = self.grid.views.get(self.model.active_view)
        return view if isinstance(view, SliceView) else None

    def _make_view(self, name: str) -> QWidget:
        if name == VOLUME_3D:
            view = VolumeView(self.model, self.scene, self.volume_state, self)
            view.canvas.activated.connect(self._activate)
        else:
            view = SliceView(self.model, self.scene, name, self.preferences.get("mouse_map"), self)
            view.activated.connect(self._activate)
            view.edit_tool = self.editing
        context = "3d" if name == VOLUME_3D else "viewer"
        for command in self.registry:
            if command.context == context or (context == "viewer" and command.context == "editing"):
                view.addAction(self.actions_by_id[command.id])
        return view

    def _build_actions(self) -> None:
        shortcuts = self.preferences.get("shortcuts")
        for command in self.registry:
            action = QAction(command.label, self)
            action.setObjectName(command.id)
            action.setShortcutContext(_CONTEXT_SHORTCUT.get(command.context, Qt.WidgetShortcut))
            action.setShortcuts([QKeySequence(key) for key in keys_for(shortcuts, command)])
            action.triggered.connect(partial(self._run_command, command.id))
            if command.context == "global":
                self.addAction(action)
            self.actions_by_id[command.id] = action

    def _build_menus(self) -> None:
        for title, ids in MENUS.items():
            menu = self.menuBar().addMenu(title)
            for command_id in ids:
                menu.addSeparator() if command_id is None else menu.addAction(self.actions_by_id[command_id])
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        for command_id in ("file.open_folder", None, "layout.1x1", "layout.1x3", "layout.2x2", None, *TOOLS,
                           None, "window.invert", "view.reset", "view.toggle_patient_text"):
            if command_id is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(self.actions_by_id[command_id])
        self.docks_menu = self.menuBar().addMenu(DOCKS_MENU)
        for dock in self.docks.values():
            self.docks_menu.addAction(dock.toggleViewAction())

    def _connect_loader(self) -> None:
        loader = self.loader
        loader.progress.connect(self._progress)
        loader.first_slice.connect(self._first_slice)
        loader.more_slices.connect(self._more_slices)
        loader.finished.connect(self._finished)
        loader.failed.connect(self._failed)
        loader.cancelled.connect(self._cancelled)
        loader.ended.connect(self._job_ended)

    # --- opening -----------------------------------------------------------------------------------
    def refresh_catalog(self) -> list[SeriesKey]:
        keys = self.browser.refresh()
        self.thumbnails.request(keys)
        return keys

    def _refresh_studies(self) -> None:
        """New studies in the catalog (the receiver indexed some): re-list the browser and the worklist."""
        self.refresh_catalog()
        self.worklist.refresh()

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        """Show ``text`` in the status bar (for ``timeout_ms`` milliseconds; 0 keeps it until the next one)."""
        self.statusBar().showMessage(text, timeout_ms)

    def open_path(self, path: Path) -> None:
        """Scan a folder / zip / DICOMDIR / file into the catalog, then open its first series."""
        self.statusBar().showMessage(f"Scanning {path}…")
        self._busy(True)
        self.loader.open_path(Path(path))

    def open_series(self, key: SeriesKey) -> None:
        """Load a catalogued series (the first slice shows while the rest loads)."""
        self.current_series = SeriesKey(*key)
        self.browser.select(self.current_series)
        info = self.catalog.series_info(self.current_series)
        self.statusBar().showMessage(f"Loading {info.modality} {info.description}…")
        self._busy(True)
        self.loader.load(info)

    def show_volume(self, volume: Volume) -> None:
        """Show an in-memory volume (tests, scripts)."""
        self.model.set_volume(volume)

    def has_volume(self) -> bool:
        return self.model.volume is not None

    def step_series(self, step: int) -> None:
        """The next / previous series of the same patient (the status bar says so at the patient's edge)."""
        key, reason = step_within_patient(self.browser.series_keys(), self.current_series, step, self._patient_of)
        if key is None:
            self.show_status(reason)
        else:
            self.open_series(key)

    def _patient_of(self, key: SeriesKey) -> object:
        rows = self.catalog.series_by_uid(key.series_uid)
        study = self.catalog.study(rows[0].study_uid) if rows else None
        return study.patient if study is not None else None

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open DICOM folder")
        if folder:
            self.open_path(Path(folder))

    def choose_archive(self) -> None:
        kinds = "DICOM (*.zip DICOMDIR *.dcm);;All files (*)"
        path, _ = QFileDialog.getOpenFileName(self, "Open zip or DICOMDIR", "", kinds)
        if path:
            self.open_path(Path(path))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(Path(url.toLocalFile()))
                break

    # --- loader signals ----------------------------------------------------------------------------
    def _progress(self, job: int, done: int, total: int, message: str) -> None:
        if job != self.loader.current:
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{message} %v/%m" if message else "%v/%m")

    def _finished(self, job: int, outcome: Volume | ScanReport) -> None:
        """A load job finished with its Volume, a scan job with its ScanReport."""
        if job != self.loader.current:
            return
        if isinstance(outcome, Volume):
            self._loaded(outcome)
        else:
            self._scanned(outcome)

    def _scanned(self, result: ScanReport) -> None:
        self.refresh_catalog()
        if result.series:
            first = result.series[0]
            self.open_series(SeriesKey(first.series_uid, first.stack_index))
        else:
            reason = result.errors[0].reason if result.errors else "no DICOM images found"
            self.statusBar().showMessage(f"Nothing to open: {reason}", 10000)

    def _run_command(self, command_id: str, _checked: bool = False) -> None:
        """Slot of every QAction (returns nothing: Qt slots must not hand values back)."""
        self.registry.run(command_id)

    def _more_slices(self, job: int) -> None:
        if job == self.loader.current:
            self.model.notify_pixels_changed()

    def _cancelled(self, job: int) -> None:
        if job == self.loader.current:
            self.statusBar().showMessage("Cancelled")

    def _first_slice(self, job: int, volume: Volume) -> None:
        if job == self.loader.current:
            self.model.set_volume(volume)

    def _loaded(self, volume: Volume) -> None:
        self.model.finish_loading(volume)
        warnings = volume.meta.get("warnings") or []
        self.statusBar().showMessage("Loaded" + (f" — {len(warnings)} warning(s)" if warnings else ""), 5000)

    def _failed(self, job: int, message: str) -> None:
        if job != self.loader.current:
            return
        self.last_error = message
        self.statusBar().showMessage(f"Could not open: {message}", 15000)

    def _job_ended(self, _job: int) -> None:
        """Settle when no job is left running (a replaced job may end after the one that replaced it)."""
        if self.loader.busy:
            return
        self._busy(False)
        self.settled.emit()

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)

    # --- commands ----------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Esc: cancel loading, else the brush stroke or editing tool, else the measurement being drawn, else
        the tool, else the maximised view."""
        if (self.loader.cancel() or self.comparison.job.cancel() or self.editing.cancel()
                or self.reading.cancel()):
            return
        views = [*self.grid.views.values(), *self.comparison.area.views.values()]
        if any(isinstance(view, SliceView) and view.cancel_drawing() for view in views):
            return
        if self.model.tool != "window_level":
            self.model.set_tool("window_level")
        elif self.model.maximized:
            self.model.toggle_maximize(self.model.maximized)
        self.cine.stop()

    def toggle_cine(self) -> None:
        if self.cine.isActive():
            self.cine.stop()
        elif self.has_volume():
            self.cine.start()

    def _cine_step(self) -> None:
        view = self.model.active_view
        index, count = self.model.slice_index(view)
        self.model.set_slice(view, (index + 1) % count)

    def toggle_magnifier(self) -> None:
        """The magnifier glass in the active 2D view (on while its key is held)."""
        view = self.grid.views.get(self.model.active_view)
        if isinstance(view, SliceView) and self.has_volume():
            view.set_magnifier(not view.magnifier_on)

    def reset_3d(self) -> None:
        view = self.grid.views.get(VOLUME_3D)
        if view is not None:
            view.canvas.reset()

    def _raise_protocol_plugin_dock(self) -> None:
        """The hanging protocol of the open study names a plugin with its own dock (e.g. Synthesis): show it."""
        plugin_id = self.comparison.preferred_plugin() if self._ai_panel is not None else ""
        plugin = self._ai_panel.registry.plugins.get(plugin_id) if plugin_id else None
        if plugin is not None and plugin.id in self._plugin_docks():
            self.docks[plugin.id].raise_()

    def show_query_retrieve(self) -> None:
        """File > Query / retrieve (priors of the open patient when a study is open)."""
        from app.widgets.pacs_dialog import PacsDialog

        volume = self.model.volume
        patient = (volume.meta.get("patient") or {}).get("PatientID", "") if volume is not None else ""
        open_patient = (str(patient), volume.ids.study_uid) if patient and volume.ids.study_uid else None
        dialog = PacsDialog(self.catalog, open_patient=open_patient, on_retrieved=self._retrieved, parent=self)
        dialog.show()
        self.pacs_dialog = dialog

    def _retrieved(self) -> None:
        self._refresh_studies()
        self.comparison.refresh_priors()

    def show_preferences(self) -> None:
        from app.widgets.preferences_dialog import PreferencesDialog

        PreferencesDialog(self.preferences, self).exec()

    def _redraw_view(self, name: str) -> None:
        self.grid.view(name).update()

    def _activate(self, view: str) -> None:
        self.model.active_view = view

    def _name_presets(self) -> None:
        """The Window menu names the presets of the shown modality ('Lung 1500/−600'); keys without a preset
        for it are greyed out."""
        labels = preset_menu_labels(self.model.presets(), PRESET_COUNT)
        for number, label in enumerate(labels, start=1):
            action = self.actions_by_id[f"window.preset_{number}"]
            action.setText(label or f"Window preset {number} (none for this modality)")
            action.setEnabled(label is not None)

    def _volume_changed(self) -> None:
        volume = self.model.volume
        self.volume_state.show_volume(volume.modality)
        self._name_presets()
        shown = self.grid.shown()
        for name in sorted(shown, key=lambda view: view != self.model.active_view):  # the native plane first
            widget = self.grid.view(name)
            if isinstance(widget, SliceView):
                widget.setFocus()
                break

    def _preferences_changed(self, section: str) -> None:
        if section == "shortcuts":
            shortcuts = self.preferences.get("shortcuts")
            for command in self.registry:
                keys = [QKeySequence(key) for key in keys_for(shortcuts, command)]
                self.actions_by_id[command.id].setShortcuts(keys)
        elif section == "mouse_map":
            for view in self.grid.views.values():
                if isinstance(view, SliceView):
                    view.mouse_map = self.preferences.get("mouse_map")
        elif section == "appearance":
            apply_theme(self.preferences.get("appearance").get("theme", "dark"))
        elif section == "window_presets":
            self.model.window_presets = self.preferences.get("window_presets")
            self._name_presets()
        elif section == "volume_presets":
            self.volume_state.all_presets = self.preferences.get("volume_presets")["presets"]
            self.volume_state.set_modality(self.volume_state.modality)

    def closeEvent(self, event) -> None:  # noqa: N802, ANN001
        self.cine.stop()
        self.comparison.job.cancel()
        self.worklist.save_position()
        self.editing.close()
        self.receiver.stop()
        for panel in self._plugin_panels.values():  # a plugin dock's job in progress is cancelled
            panel.close_job()
        self.reading.job.cancel()
        self.reading.job.wait(5.0)
        self.loader.cancel()
        self.loader.wait(5.0)
        self.thumbnails.cancel()
        self.thumbnails.wait(5.0)
        super().closeEvent(event)


def _scroll_area() -> QScrollArea:
    """A vertical scroll area, so a short dock scrolls instead of squeezing its panel's tables."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # the panel wraps to the dock's width
    area.setFrameShape(QScrollArea.NoFrame)
    return area
