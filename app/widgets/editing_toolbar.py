"""The Editing dock: tools, label list with colours and the active label, brush size / shape / overwrite
policy, threshold range, whole-map actions and Accept correction. Buttons run registry commands; the
settings write straight into the Editor, and ``refresh`` mirrors the Editor back."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.viewer_model.editing import MAX_RADIUS_MM, MIN_RADIUS_MM, POLICIES, SHAPES, Editor
from app.widgets.wheel_guard import guard_wheel

TOOL_BUTTONS = (("brush", "Brush"), ("eraser", "Eraser"), ("threshold", "Threshold"), ("fill", "Fill"),
                ("pick", "Pick"))
POLICY_TEXT = {"overwrite": "Paint over any label", "protect": "Protect other labels"}
VALUE_ROLE = Qt.UserRole + 1


def _swatch(color: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


def _key_hint(widget: QWidget, text: str, actions: list[QAction]) -> None:
    keys = [key.toString(QKeySequence.NativeText) for action in actions for key in action.shortcuts()]
    widget.setToolTip(f"{text} ({' / '.join(keys)})" if keys else text)


class EditingPanel(QWidget):
    """Controls of the label-map editor; ``run(command_id)`` runs a registry command."""

    def __init__(self, editor: Editor, run: Callable[[str], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("editing_panel")
        self.editor, self.run = editor, run
        layout = QVBoxLayout(self)
        layout.addLayout(self._tool_row())
        self.labels = QListWidget(self)
        self.labels.setObjectName("label_list")
        self.labels.setMaximumHeight(90)
        self.labels.currentItemChanged.connect(self._label_chosen)
        layout.addWidget(self.labels)
        layout.addWidget(self._brush_box())
        layout.addWidget(self._threshold_box())
        layout.addWidget(self._map_box())
        guard_wheel(self.size, self.shape, self.policy, self.low, self.high, self.island_size)
        self.accept_button = self._button("Accept correction", "edit.accept")
        self.accept_button.setObjectName("accept_button")
        layout.addWidget(self.accept_button)
        self.summary = QLabel("", self)
        self.summary.setObjectName("change_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        self.refresh()

    # --- construction ------------------------------------------------------------------------------
    def _button(self, text: str, command_id: str) -> QPushButton:
        button = QPushButton(text, self)
        button.clicked.connect(lambda: self.run(command_id))
        return button

    def _tool_row(self) -> QGridLayout:
        grid = QGridLayout()
        self.tool_buttons: dict[str, QToolButton] = {}
        for index, (tool, text) in enumerate(TOOL_BUTTONS):
            button = QToolButton(self)
            button.setText(text)
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonTextOnly)
            button.clicked.connect(lambda _checked=False, t=tool: self.run(f"edit.{t}"))
            grid.addWidget(button, 0, index)
            self.tool_buttons[tool] = button
        return grid

    def _brush_box(self) -> QGroupBox:
        box = QGroupBox("Brush", self)
        form = QFormLayout(box)
        self.size = QDoubleSpinBox(box)
        self.size.setObjectName("brush_size")
        self.size.setRange(MIN_RADIUS_MM, MAX_RADIUS_MM)
        self.size.setSingleStep(0.5)
        self.size.setSuffix(" mm")
        self.size.valueChanged.connect(self.editor.set_radius)
        self.shape = QComboBox(box)
        self.shape.addItems(SHAPES)
        self.shape.currentTextChanged.connect(self.editor.set_shape)
        self.policy = QComboBox(box)
        for policy in POLICIES:
            self.policy.addItem(POLICY_TEXT[policy], policy)
        self.policy.currentIndexChanged.connect(lambda i: self.editor.set_policy(self.policy.itemData(i)))
        row = QHBoxLayout()
        row.addWidget(self.size)
        row.addWidget(self.shape)
        form.addRow("Radius", row)
        form.addRow("Overwrite", self.policy)
        form.addRow(self._button("New label", "edit.new_label"))
        return box

    def _threshold_box(self) -> QGroupBox:
        box = QGroupBox("Threshold range", self)
        form = QFormLayout(box)
        self.auto_range = QCheckBox("Pick under the brush at each stroke", box)
        self.low, self.high = QDoubleSpinBox(box), QDoubleSpinBox(box)
        for spin in (self.low, self.high):
            spin.setRange(-100000, 100000)
            spin.setDecimals(1)
            spin.valueChanged.connect(self._threshold_edited)
        self.auto_range.toggled.connect(self._threshold_edited)
        row = QHBoxLayout()
        row.addWidget(self.low)
        row.addWidget(QLabel("to", box))
        row.addWidget(self.high)
        form.addRow(self.auto_range)
        form.addRow(row)
        return box

    def _map_box(self) -> QGroupBox:
        box = QGroupBox("Whole label map", self)
        form = QFormLayout(box)
        self.island_size = QSpinBox(box)
        self.island_size.setRange(1, 10_000_000)
        self.island_size.setSuffix(" voxels")
        self.island_size.valueChanged.connect(lambda n: setattr(self.editor, "island_min_voxels", n))
        row = QHBoxLayout()
        row.addWidget(self._button("Remove islands <", "edit.remove_islands"))
        row.addWidget(self.island_size)
        form.addRow(self._button("Fill between slices", "edit.fill_between"))
        form.addRow(row)
        return box

    # --- state ---------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Show the Editor's current state (signals blocked, so nothing is written back)."""
        editor = self.editor
        widgets = (self.labels, self.size, self.shape, self.policy, self.auto_range, self.low, self.high,
                   self.island_size)
        for widget in widgets:
            widget.blockSignals(True)
        for tool, button in self.tool_buttons.items():
            button.setChecked(editor.tool == tool)
        self.labels.clear()
        for label in editor.labels:
            color = editor.layer.colors.get(label.value, label.color)
            item = QListWidgetItem(_swatch(color), f"{label.value}  {label.name}")
            item.setData(VALUE_ROLE, label.value)
            self.labels.addItem(item)
            if label.value == editor.active_label:
                self.labels.setCurrentItem(item)
        self.size.setValue(editor.radius_mm)
        self.shape.setCurrentText(editor.shape)
        self.policy.setCurrentIndex(self.policy.findData(editor.policy))
        self.auto_range.setChecked(editor.threshold_auto)
        if editor.threshold_range is not None:
            self.low.setValue(editor.threshold_range[0])
            self.high.setValue(editor.threshold_range[1])
        self.island_size.setValue(editor.island_min_voxels)
        for widget in widgets:
            widget.blockSignals(False)

    def show_keys(self, actions: dict[str, QAction]) -> None:
        """Name the commands' current keys in the tooltips, and keep them current when the shortcuts change."""
        hints = [(button, button.text(), [f"edit.{tool}"]) for tool, button in self.tool_buttons.items()]
        hints.append((self.size, "Brush radius", ["edit.brush_smaller", "edit.brush_bigger"]))
        for widget, text, command_ids in hints:
            bound = [actions[command_id] for command_id in command_ids]
            for action in bound:
                action.changed.connect(lambda w=widget, t=text, b=bound: _key_hint(w, t, b))
            _key_hint(widget, text, bound)

    def show_summary(self, lines: list[str]) -> None:
        self.summary.setText("\n".join(lines))

    def _label_chosen(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is not None:
            self.editor.set_active_label(int(item.data(VALUE_ROLE)))

    def _threshold_edited(self, *_args: object) -> None:
        self.editor.set_threshold(self.low.value(), self.high.value(), self.auto_range.isChecked())
