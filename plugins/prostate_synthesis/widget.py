"""The synthesis dock (manifest ``[host] dock``; only the app imports this module): a report prompt (templates +
free editing), the class mode, seed, steps and guidance scale; generates a SYNTHETIC prostate T2 volume off the
GUI thread with progress and Cancel, opens it as a new series (written under the per-user data folder and listed
in the catalog as patient SYNTHETIC) and saves it as NIfTI or DICOM.

Every button calls a Qt-free function of this plugin (runner.synthesize, export) that tests call without a
window; the generation runs as the app's BackgroundJob.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.jobs.background import BackgroundJob, JobContext, Work
from app.widgets.wheel_guard import guard_wheel

from .form import CLASS_MODE_LABELS, describe_result, fill_prompt
from .runner import DEFAULT_PLUGIN
from .templates import TemplateField, load_fields, load_templates
from .types import DEFAULT_GUIDANCE, MAX_GUIDANCE, SynthesisRequest, SynthesisResult

if TYPE_CHECKING:
    from engine.ai.registry import Plugin

NOTICE = ("Generates SYNTHETIC images from a report (CCELLA, phantom-trained). Research use only — "
          "not for clinical use; every generation is recorded in the audit log.")
MAX_SEED = 2**31 - 1


class SynthesisPanel(QWidget):
    """Prompt editor, class mode, seed, steps, Generate / Cancel, result summary and save buttons."""

    generated = Signal(object, object)  # SynthesisResult, the folder its DICOM series was written to

    def __init__(self, plugin: Plugin | None = None, open_path: Callable[[Path], object] | None = None,
                 parent: QWidget | None = None, library_root: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("synthesis_panel")
        self.plugin_id = plugin.id if plugin is not None else DEFAULT_PLUGIN
        self.job = BackgroundJob("synthesis")
        self.library_root = library_root  # None = <per-user data folder>/synthetic
        if open_path is not None:  # the window opens each generated series
            self.generated.connect(lambda _result, folder: open_path(folder))
        self.templates = load_templates()
        self.fields = load_fields()
        self.result: SynthesisResult | None = None
        self.series_folder: Path | None = None
        self._build()
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(self._cancelled)  # bound slots: queued to the GUI thread
        self.choose_template()

    # --- construction ------------------------------------------------------------------------------
    def _build(self) -> None:
        notice = QLabel(NOTICE, objectName="synthesis_notice", wordWrap=True)
        notice.setStyleSheet("color: #ff6060; font-weight: bold;")
        self.template = _compact(QComboBox(objectName="synthesis_template"))
        for template in self.templates:
            self.template.addItem(f"{template.title} ({template.expected_class})", template.id)
        self.template.currentIndexChanged.connect(lambda _index: self.choose_template())
        form = QFormLayout()
        form.addRow("Report template", self.template)
        self.field_widgets: dict[str, QComboBox | QSpinBox] = {}
        for field in self.fields.values():
            widget = _field_widget(field)
            signal = widget.currentIndexChanged if isinstance(widget, QComboBox) else widget.valueChanged
            signal.connect(lambda _value: self.apply_template())
            self.field_widgets[field.name] = widget
            form.addRow(field.name.replace("_", " ").replace(" mm", " (mm)").replace(" ml", " (mL)"), widget)
        self.prompt = QPlainTextEdit(objectName="synthesis_prompt")
        self.prompt.setPlaceholderText("Report text (an empty report generates without a prompt)")
        self.prompt.setMinimumHeight(90)
        self.class_mode = _compact(QComboBox(objectName="synthesis_class_mode"))
        for mode, label in CLASS_MODE_LABELS.items():
            self.class_mode.addItem(label, mode)
        self.seed = QSpinBox(objectName="synthesis_seed", minimum=0, maximum=MAX_SEED, value=0)
        self.steps = QSpinBox(objectName="synthesis_steps", minimum=1, maximum=1000, value=50)
        self.guidance = QDoubleSpinBox(objectName="synthesis_guidance", minimum=0.0, maximum=MAX_GUIDANCE,
                                       singleStep=0.5, decimals=1, value=DEFAULT_GUIDANCE)
        self.guidance.setToolTip("Classifier-free guidance against a missing report: 1 = none; higher follows the "
                                 "report more strongly (each step runs the model twice). See the model card.")
        guard_wheel(self.template, self.class_mode, self.seed, self.steps, self.guidance,
                    *self.field_widgets.values())
        options = QFormLayout()
        options.addRow("Class", self.class_mode)
        options.addRow("Seed", self.seed)
        options.addRow("DDIM steps", self.steps)
        options.addRow("Guidance (w)", self.guidance)
        self.generate_button = QPushButton("Generate", objectName="synthesis_generate")
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button = QPushButton("Cancel", objectName="synthesis_cancel", enabled=False)
        self.cancel_button.clicked.connect(self.job.cancel)
        self.progress = QProgressBar(objectName="synthesis_progress", visible=False)
        self.status = QLabel(objectName="synthesis_status", wordWrap=True)
        self.summary = QLabel(objectName="synthesis_summary", wordWrap=True)
        self.save_nifti_button = QPushButton("Save NIfTI…", objectName="synthesis_save_nifti", enabled=False)
        self.save_nifti_button.clicked.connect(self._ask_nifti)
        self.save_dicom_button = QPushButton("Save DICOM…", objectName="synthesis_save_dicom", enabled=False)
        self.save_dicom_button.clicked.connect(self._ask_dicom)
        run_row, save_row = QHBoxLayout(), QHBoxLayout()
        run_row.addWidget(self.generate_button)
        run_row.addWidget(self.cancel_button)
        save_row.addWidget(self.save_nifti_button)
        save_row.addWidget(self.save_dicom_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(notice)
        layout.addLayout(form)
        layout.addWidget(QLabel("<b>Prompt</b> (editable)"))
        layout.addWidget(self.prompt, 1)
        layout.addLayout(options)
        layout.addLayout(run_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.summary)
        layout.addLayout(save_row)
        layout.addStretch(0)

    # --- prompt ------------------------------------------------------------------------------------
    def field_values(self) -> dict[str, Any]:
        return {name: (w.currentText() if isinstance(w, QComboBox) else w.value())
                for name, w in self.field_widgets.items()}

    def choose_template(self) -> None:
        """Set the fields to the chosen template's defaults, then fill the prompt."""
        template = self.templates[max(0, self.template.currentIndex())]
        for name, value in template.defaults.items():
            widget = self.field_widgets.get(name)
            if widget is None:
                continue
            widget.blockSignals(True)
            if isinstance(widget, QComboBox):
                widget.setCurrentText(str(value))
            else:
                widget.setValue(int(value))
            widget.blockSignals(False)
        self.apply_template()

    def apply_template(self) -> None:
        """Fill the prompt from the chosen template and fields; fields the template doesn't use are disabled."""
        template = self.templates[max(0, self.template.currentIndex())]
        for name, widget in self.field_widgets.items():
            widget.setEnabled(name in template.placeholders)
        self.prompt.setPlainText(fill_prompt(template, self.field_values()))

    def request(self) -> SynthesisRequest:
        return SynthesisRequest(prompt=self.prompt.toPlainText().strip(), class_mode=self.class_mode.currentData(),
                                seed=self.seed.value(), steps=self.steps.value(), guidance=self.guidance.value())

    # --- running -----------------------------------------------------------------------------------
    def generate(self) -> None:
        """Start a generation with the panel's settings (ignored while one runs)."""
        if self.job.busy:
            return
        self.generate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.status.setText("Starting…")
        self.job.start(synthesis_work(self.request(), self.plugin_id))

    def close_job(self) -> None:
        """Cancel a generation in progress and wait for it (at most 5 s): the window is closing."""
        self.job.cancel()
        self.job.wait(5.0)

    def _progress(self, job: int, done: int, total: int, message: str) -> None:
        if job != self.job.current:
            return
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)
        self.status.setText(message)

    def _failed(self, job: int, message: str) -> None:
        if job == self.job.current:
            self._ended(f"Generation failed: {message}")

    def _cancelled(self, job: int) -> None:
        if job == self.job.current:
            self._ended("Generation cancelled.")

    def _ended(self, message: str) -> None:
        self.generate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        self.status.setText(message)

    def _finished(self, job: int, result: SynthesisResult) -> None:
        from .export import library_folder, write_synthetic_dicom

        if job != self.job.current:
            return
        self.result = result
        self.summary.setText(describe_result(result))
        self.save_nifti_button.setEnabled(True)
        self.save_dicom_button.setEnabled(True)
        try:
            self.series_folder = library_folder(result, self.library_root)
            write_synthetic_dicom(result, self.series_folder)
        except OSError as error:
            self.series_folder = None
            self._ended(f"Generated, but the series could not be written: {error}")
            return
        seconds = result.provenance.duration_s if result.provenance else 0.0
        self._ended(f"Generated in {seconds:.1f} s; opened as a new SYNTHETIC series.")
        self.generated.emit(result, self.series_folder)

    # --- saving ------------------------------------------------------------------------------------
    def save_nifti(self, path: Path) -> list[Path]:
        """Write the last result as NIfTI plus its JSON provenance sidecar."""
        from .export import write_synthetic_nifti

        written = list(write_synthetic_nifti(self._last(), path))
        self.status.setText(f"Saved {written[0]}")
        return written

    def save_dicom(self, folder: Path) -> list[Path]:
        """Write the last result as a DICOM MR series (marked SYNTHETIC) into ``folder``."""
        from .export import write_synthetic_dicom

        written = write_synthetic_dicom(self._last(), folder)
        self.status.setText(f"Saved {len(written)} DICOM files to {folder}")
        return written

    def _last(self) -> SynthesisResult:
        if self.result is None:
            raise RuntimeError("nothing generated yet")
        return self.result

    def _ask_nifti(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save synthetic volume", "synthetic.nii.gz",
                                              "NIfTI (*.nii.gz *.nii)")
        if name:
            self._save(self.save_nifti, Path(name))

    def _ask_dicom(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save synthetic DICOM series into")
        if folder:
            self._save(self.save_dicom, Path(folder))

    def _save(self, action, target: Path) -> None:  # noqa: ANN001
        try:
            action(target)
        except (OSError, ValueError) as error:
            self.status.setText(f"Could not save {target}: {error}")


def synthesis_work(request: SynthesisRequest, plugin_id: str = DEFAULT_PLUGIN) -> Work:
    """The work that generates ``request`` with the default plugin registry and audit log; it stops at the next
    denoising step after Cancel and finishes with the SynthesisResult."""

    def work(context: JobContext) -> object:
        from .runner import synthesize

        return synthesize(request, context.progress, context.cancel, plugin_id=plugin_id)

    return work


def _compact(combo: QComboBox) -> QComboBox:
    """A combo box that does not widen the dock to its longest entry (the popup still shows it whole)."""
    combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(12)
    return combo


def _field_widget(field: TemplateField) -> QComboBox | QSpinBox:
    if field.choices:
        combo = _compact(QComboBox(objectName=f"synthesis_field_{field.name}"))
        combo.addItems(list(field.choices))
        return combo
    spin = QSpinBox(objectName=f"synthesis_field_{field.name}", minimum=field.minimum, maximum=field.maximum)
    spin.setValue((field.minimum + field.maximum) // 2)
    return spin
