"""The AI dock, generic for every analysis plugin: pick a plugin (name, version, kind, model-hash check,
not-for-clinical-use notice), pick the input series per role (auto-matched, overridable), Run / Cancel in
a background job, then the result as overlay layers, its warnings, findings, measurements (and under them the
result widget its plugin's manifest names, e.g. the Agatston chart of a calcium result), similar cases, exports
and a provenance status line. Every button calls one function of app.viewer_model.ai_* or engine.ai.

Results are bound to the study they were computed on (app.viewer_model.result_binding): each new volume
shows only what of its study's result applies to it, and nothing of another study's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs.analysis import analysis_work
from app.jobs.background import BackgroundJob
from app.viewer_model.ai_inputs import (
    Candidate,
    PluginSummary,
    match_inputs,
    plugin_summary,
    study_candidates,
)
from app.viewer_model.ai_results import (
    NOT_FOR_CLINICAL_USE,
    FindingRow,
    finding_rows,
    measurement_rows,
    provenance_line,
    result_layers,
)
from app.viewer_model.layers import Layer
from app.viewer_model.model import ViewerModel
from app.viewer_model.result_binding import NOTHING, BoundResult, Display, ResultShelf, display
from app.widgets.ai_results_view import (
    FindingsTable,
    MeasurementsTable,
    SimilarCaseDialog,
    SimilarCasesStrip,
    titled,
)
from app.widgets.theme import set_tone
from engine.ai.registry import PluginRefused, PluginRegistry
from engine.ai.result import AnalysisResult, SimilarCase
from engine.analysis import exports as ai_exports
from engine.analysis.reports import pdf_writer
from engine.analysis.service import Analysis
from engine.catalog import Catalog

NOT_CHOSEN = "— none —"


@dataclass
class ResultView:
    """A plugin's result widget (manifest ``[host] result_widget``: ``show_result(result) -> bool``,
    ``clear()``) in its captioned box."""

    box: QWidget
    widget: Any


class AiPanel(QWidget):
    """Bound to the viewer model (overlays, crosshair) and the catalog (the study's series)."""

    def __init__(self, model: ViewerModel, catalog: Catalog, registry: PluginRegistry,
                 parent: QWidget | None = None, audit_log: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ai_panel")
        self.model, self.catalog, self.audit_log = model, catalog, audit_log
        self.registry = registry
        self.job = BackgroundJob("ai")
        self.result: AnalysisResult | None = None  # the result shown (None: none of the shown study's)
        self.export_source: ai_exports.ExportSource | None = None
        self.shelf = ResultShelf()
        self._display: Display = NOTHING
        self._summaries: dict[str, PluginSummary] = {}
        self._candidates: list[Candidate] = []
        self._chosen: dict[str, Candidate] = {}
        self._layers: list[Layer] = []
        self.preferred_plugin: Callable[[], str] | None = None  # the hanging protocol's plugin, if any
        self._result_views: dict[str, ResultView] = {}
        self._build()
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(self._cancelled)  # bound slots: queued to the GUI thread
        model.volume_changed.connect(self._volume_changed)
        model.pixels_changed.connect(self._update_run_button)  # loading finished: Run becomes possible
        self.set_registry(registry)

    # --- construction ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.plugins = QComboBox(objectName="ai_plugin")
        self.plugins.currentIndexChanged.connect(lambda _index: self._plugin_changed())
        self.about = QLabel(objectName="ai_about", wordWrap=True)
        self.notice = QLabel(NOT_FOR_CLINICAL_USE, objectName="ai_notice", wordWrap=True)
        set_tone(self.notice, "error")
        self.roles = QFormLayout()
        self.run_button = QPushButton("Run", objectName="ai_run")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel", objectName="ai_cancel", enabled=False)
        self.cancel_button.clicked.connect(self.job.cancel)
        self.progress = QProgressBar(objectName="ai_progress", visible=False)
        self.status = QLabel(objectName="ai_status", wordWrap=True)
        self.status.setMinimumHeight(3 * self.status.fontMetrics().height())
        self.warnings = QLabel(objectName="ai_warnings", wordWrap=True, textFormat=Qt.PlainText, visible=False)
        set_tone(self.warnings, "warning")
        self.findings = FindingsTable()
        self.findings.setMinimumHeight(120)
        self.findings.finding_chosen.connect(self.go_to_finding)
        self.measurements = MeasurementsTable()
        self.measurements.setFixedHeight(100)
        self.similar = SimilarCasesStrip()
        self.similar.case_chosen.connect(self.show_case)
        self.exports = {kind: QPushButton(ai_exports.LABELS[kind], objectName=f"ai_export_{kind}", enabled=False)
                        for kind in ai_exports.KINDS}
        for kind, button in self.exports.items():
            button.clicked.connect(partial(self.export, kind))
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        export_grid = QGridLayout()
        for index, button in enumerate(self.exports.values()):
            export_grid.addWidget(button, index // 3, index % 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for widget in (self.plugins, self.about, self.notice):
            layout.addWidget(widget)
        layout.addLayout(self.roles)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.warnings)
        layout.addWidget(titled("Findings", self.findings), 1)
        layout.addWidget(titled("Measurements", self.measurements))
        self.plugin_views = QVBoxLayout()  # the plugins' result widgets, built when first needed
        self.plugin_views.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.plugin_views)
        layout.addWidget(titled("Similar cases", self.similar))
        layout.addWidget(QLabel("<b>Export</b>"))
        layout.addLayout(export_grid)

    # --- plugin and inputs -------------------------------------------------------------------------
    def set_registry(self, registry: PluginRegistry) -> None:
        """List the registry's analysis plugins (discovery problems go to the status line)."""
        self.registry = registry
        self._summaries.clear()
        self.plugins.blockSignals(True)
        self.plugins.clear()
        for plugin in registry.plugins.values():
            if plugin.manifest.is_analysis:  # generative plugins have a dock of their own
                self.plugins.addItem(plugin.manifest.name, plugin.id)
        self.plugins.blockSignals(False)
        self._say("\n".join(registry.problems), "error" if registry.problems else "")
        self._plugin_changed()

    @property
    def plugin_id(self) -> str | None:
        return self.plugins.currentData()

    def _plugin_changed(self) -> None:
        plugin_id = self.plugin_id
        if plugin_id is None:
            self.about.setText("No AI plugin fits this study." if self.plugins.count() else "No AI plugin found.")
            self.refresh_inputs()
            return
        if plugin_id not in self._summaries:
            self._summaries[plugin_id] = plugin_summary(self.registry.get(plugin_id))
        summary = self._summaries[plugin_id]
        self.about.setText(f"<b>{summary.title}</b><br>{summary.models}<br><small>{summary.intended_use}</small>")
        self.refresh_inputs()

    def refresh_inputs(self) -> None:
        """One combo box per input role, listing the shown study's series, set to the automatic match."""
        while self.roles.rowCount():
            self.roles.removeRow(0)
        self._candidates = study_candidates(self.catalog, self.model.volume)
        plugin_id = self.plugin_id
        if plugin_id is None:
            self._update_run_button()
            return
        manifest = self.registry.get(plugin_id).manifest
        match = match_inputs(manifest, self._candidates, {})
        for role in manifest.inputs:
            combo = QComboBox(objectName=f"ai_role_{role.role}")
            combo.addItem(NOT_CHOSEN, None)
            for candidate in self._candidates:
                combo.addItem(candidate.title, candidate.id)
            combo.setCurrentIndex(max(0, combo.findData(match.assignment.get(role.role))))
            combo.currentIndexChanged.connect(lambda _index: self._update_run_button())
            self.roles.addRow(role.role + ("" if role.required else " (optional)"), combo)
        self._update_run_button()

    def chosen_inputs(self) -> dict[str, Candidate]:
        """Role -> the series picked in its combo box (user overrides included)."""
        by_id = {candidate.id: candidate for candidate in self._candidates}
        chosen = {}
        for row in range(self.roles.rowCount()):
            combo = self.roles.itemAt(row, QFormLayout.FieldRole).widget()
            if combo.currentData() in by_id:
                chosen[combo.objectName().removeprefix("ai_role_")] = by_id[combo.currentData()]
        return chosen

    def offer_plugin(self) -> str | None:
        """Select the plugin that fits the shown study (app.viewer_model.plugin_offer); none when none fits."""
        from app.viewer_model.plugin_offer import offer_plugin

        ids = [self.plugins.itemData(i) for i in range(self.plugins.count())]
        manifests = {pid: self.registry.get(pid).manifest for pid in ids}
        candidates = study_candidates(self.catalog, self.model.volume)
        complete = {pid: match_inputs(m, candidates, {}).complete for pid, m in manifests.items()}
        preferred = self.preferred_plugin() if self.preferred_plugin is not None else ""
        offer = offer_plugin(manifests, self.model.volume, complete, preferred)
        self.plugins.setCurrentIndex(self.plugins.findData(offer.plugin_id) if offer.plugin_id else -1)
        return offer.plugin_id

    def _volume_changed(self) -> None:
        """Another volume: the plugin that fits it, its study's inputs, and of the results only its study's."""
        if self.model.volume is not None:
            self.offer_plugin()  # never the last study's plugin
        self.refresh_inputs()
        self._show_shelved()
        if not self.job.busy:
            self._say(self._idle_status())

    def _update_run_button(self) -> None:
        plugin_id = self.plugin_id
        ready = (plugin_id is not None and self._summaries[plugin_id].runnable and not self.job.busy
                 and self.model.volume is not None and "loading" not in self.model.volume.meta)
        if ready:
            manifest = self.registry.get(plugin_id).manifest
            chosen = self.chosen_inputs()
            ready = all(role.role in chosen for role in manifest.inputs if role.required)
        self.run_button.setEnabled(ready)

    # --- running -----------------------------------------------------------------------------------
    def run(self) -> None:
        """Run the chosen plugin on the chosen series as a background job."""
        self._chosen = self.chosen_inputs()
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self._say("Running…")
        self.job.start(analysis_work(self.catalog, self.registry, self.plugin_id, self._chosen, self.model.volume,
                                     self.audit_log))

    def _progress(self, job: int, done: int, total: int, message: str) -> None:
        if job != self.job.current:
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"{message} %v/%m" if total else message)

    def _cancelled(self, job: int) -> None:
        if job == self.job.current:
            self._ended("Cancelled.")

    def _failed(self, job: int, message: str) -> None:
        if job == self.job.current:
            self._ended(f"Failed: {message}", "error")

    def _say(self, message: str, tone: str = "") -> None:
        """The status line; a refusal or failure (tone 'error') in the theme's error colour."""
        self.status.setText(message)
        set_tone(self.status, tone)

    def _ended(self, message: str, tone: str = "") -> None:
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        self._say(message, tone)
        self._update_run_button()

    def _finished(self, job: int, analysis: Analysis) -> None:
        if job != self.job.current:
            return
        result, manifest = analysis.result, analysis.plugin.manifest
        self.show_result(result, ai_exports.ExportSource(
            result, analysis.reference_volume, analysis.series[analysis.reference_role], manifest.name,
            pdf_writer(analysis.plugin), self.audit_log))
        self._ended(self._idle_status() if self.result is result else
                    "Finished on another study: its result shows when that study is opened again.")

    def show_result(self, result: AnalysisResult, source: ai_exports.ExportSource) -> None:
        """Keep ``result`` as its study's result (replacing that study's earlier one), and show it if the
        shown volume is of that study (a run may end after the reader opened another patient)."""
        self.shelf.keep(BoundResult(source, result_layers(result, source.volume.geometry, source.title)))
        self._show_shelved()

    def _show_shelved(self) -> None:
        """Show what of the shown study's result applies to the shown volume; clear everything else."""
        bound = self.shelf.for_volume(self.model.volume)
        self._display = display(bound, self.model.volume)
        shown = bound if self._display.lists else None
        self.result = shown.result if shown else None
        self.export_source = shown.source if shown else None
        self._show_layers(self._display.layers)
        warnings = self.result.warnings if self.result else []
        self.warnings.setText("\n".join(f"\u26a0 WARNING: {text}" for text in warnings))
        self.warnings.setVisible(bool(warnings))
        self.findings.show_rows(finding_rows(self.result) if self.result else [])
        self.measurements.show_rows(measurement_rows(self.result) if self.result else [])
        self._show_result_view(self.result)
        self.similar.show_cases(self.result.similar_cases if self.result else [])
        for kind, button in self.exports.items():
            reason = ai_exports.why_unavailable(kind, shown.source) if shown else "no AI result for this study"
            button.setEnabled(not reason)
            button.setToolTip(reason or f"Save the result as {ai_exports.LABELS[kind]}")

    def result_view(self, plugin_id: str) -> ResultView | None:
        """The result widget of ``plugin_id`` (built on first use, hidden until it shows a result); None when
        its manifest names none or the plugin is not in the registry."""
        if plugin_id in self._result_views:
            return self._result_views[plugin_id]
        plugin = self.registry.plugins.get(plugin_id)
        host = plugin.manifest.host if plugin else None
        if plugin is None or host is None or not host.result_widget:
            return None
        widget = plugin.host_object(host.result_widget)()
        view = ResultView(titled(host.result_title or plugin.manifest.name, widget), widget)
        view.box.setVisible(False)
        self.plugin_views.addWidget(view.box)
        self._result_views[plugin_id] = view
        return view

    def _show_result_view(self, result: AnalysisResult | None) -> None:
        """Only the widget of the plugin that computed ``result`` shows it; the others are cleared."""
        owner = result.provenance.plugin_id if result is not None and result.provenance else ""
        for plugin_id, view in self._result_views.items():
            if plugin_id != owner:
                view.widget.clear()
                view.box.setVisible(False)
        try:
            view = self.result_view(owner) if owner else None
        except PluginRefused as error:  # a broken widget must not hide the findings
            self._say(str(error), "error")
            return
        if view is not None and result is not None:
            view.box.setVisible(bool(view.widget.show_result(result)))

    def _show_layers(self, layers: tuple[Layer, ...]) -> None:
        """Make the panel's layers in the viewer exactly ``layers`` (others' removed, missing ones added)."""
        present = list(self.model.layers)
        for layer in self._layers:
            if layer in present and layer not in layers:
                self.model.layers.remove(layer)
        for layer in layers:
            if layer not in present:
                self.model.add_layer(layer)
        self._layers = list(layers)

    def _idle_status(self) -> str:
        """The status line between runs: the shown result's provenance, else the registry's problems."""
        return provenance_line(self.result) if self.result else "\n".join(self.registry.problems)

    # --- result actions ----------------------------------------------------------------------------
    def go_to_finding(self, row: FindingRow) -> None:
        """Centre every view on the finding (crosshair on it), only where the shown series is in the frame of
        reference of the result the finding belongs to; a row of a result no longer shown does nothing."""
        if not any(row is listed for listed in self.findings.rows):
            return
        if self._display.go_to:
            self.model.centre_on(row.point)
        else:
            self._say("This series is in another frame of reference than the analysed one: "
                                "open the analysed series to go to the finding.")

    def show_case(self, case: SimilarCase) -> SimilarCaseDialog:
        dialog = SimilarCaseDialog(case, self)
        dialog.open()
        return dialog

    def export(self, kind: str) -> list[Path]:
        """Ask where, then write the export; the status line names the files or the error."""
        if self.export_source is None:
            return []
        title = f"Save {ai_exports.LABELS[kind]}"
        if kind == "folder":
            chosen = QFileDialog.getExistingDirectory(self, title)
        else:
            suffix = ai_exports.SUFFIX[kind]
            chosen, _ = QFileDialog.getSaveFileName(self, title, f"ai_result{suffix}", f"*{suffix}")
        if not chosen:
            return []
        try:
            written = ai_exports.export(kind, self.export_source, Path(chosen))
        except Exception as error:  # export errors (no DICOM headers, unwritable folder) reach the user
            self._say(f"{ai_exports.LABELS[kind]} not saved: {type(error).__name__}: {error}", "error")
            return []
        self._say(f"Saved {', '.join(str(path) for path in written)}")
        return written
