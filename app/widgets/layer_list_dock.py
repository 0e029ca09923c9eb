"""Layer list dock: toggle, reorder, remove layers and edit the selected layer's display settings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.render.colormaps import COLORMAPS
from app.viewer_model.layer_list import LayerList
from app.viewer_model.layers import LABEL_STYLES, HeatmapLayer, LabelLayer, Layer


class LayerListDock(QWidget):
    """Top of the list = drawn last (on top), as in every layer list users know."""

    def __init__(self, layers: LayerList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layers = layers
        self.list = QListWidget(self)
        self.list.setObjectName("layer_list")
        self.list.itemChanged.connect(self._item_changed)
        self.list.currentRowChanged.connect(lambda _row: self._show_controls())
        self.up, self.down, self.remove = QPushButton("Up"), QPushButton("Down"), QPushButton("Remove")
        self.up.clicked.connect(lambda: self._move(+1))
        self.down.clicked.connect(lambda: self._move(-1))
        self.remove.clicked.connect(self._remove)
        buttons = QHBoxLayout()
        for button in (self.up, self.down, self.remove):
            buttons.addWidget(button)
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.valueChanged.connect(lambda v: self._set("opacity", v / 100))
        self.style = QComboBox()
        self.style.addItems(LABEL_STYLES)
        self.style.activated.connect(lambda i: self._set("style", LABEL_STYLES[i]))
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.colormap.activated.connect(lambda i: self._set("colormap", COLORMAPS[i]))
        self.threshold = QSlider(Qt.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.valueChanged.connect(lambda v: self._set("threshold", v / 100))
        self.labels = QListWidget()
        self.labels.itemChanged.connect(self._label_toggled)
        self.form = QFormLayout()
        self.form.addRow("Opacity", self.opacity)
        self.form.addRow("Style", self.style)
        self.form.addRow("Colormap", self.colormap)
        self.form.addRow("Threshold", self.threshold)
        self.form.addRow("Labels", self.labels)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addLayout(self.form)
        self._syncing = False
        layers.changed.connect(self.refresh)
        self.refresh()

    def selected_layer(self) -> Layer | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item is not None else None

    def refresh(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        current = self.selected_layer()
        self.list.clear()
        for layer in reversed(list(self.layers)):
            item = QListWidgetItem(f"{layer.name}  [{layer.kind}]")
            item.setData(Qt.UserRole, layer)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if layer.visible else Qt.Unchecked)
            self.list.addItem(item)
            if layer is current:
                self.list.setCurrentItem(item)
        self._syncing = False
        self._show_controls()

    def _show_controls(self) -> None:
        layer = self.selected_layer()
        self._syncing = True
        for widget, kinds in ((self.opacity, ("labels", "heatmap")), (self.style, ("labels",)),
                              (self.colormap, ("heatmap",)), (self.threshold, ("heatmap",)),
                              (self.labels, ("labels",))):
            shown = layer is not None and layer.kind in kinds
            widget.setVisible(shown)
            self.form.labelForField(widget).setVisible(shown)
        movable = layer is not None and layer.removable
        for button in (self.up, self.down, self.remove):
            button.setEnabled(movable)
        if layer is not None:
            self.opacity.setValue(round(layer.opacity * 100))
        if isinstance(layer, LabelLayer):
            self.style.setCurrentText(layer.style)
            self.labels.clear()
            for label in layer.label_map.labels:
                pixmap = QPixmap(12, 12)
                pixmap.fill(QColor(*layer.colors[label.value]))
                item = QListWidgetItem(QIcon(pixmap), f"{label.value}  {label.name}")
                item.setData(Qt.UserRole, label.value)
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Unchecked if label.value in layer.hidden_labels else Qt.Checked)
                self.labels.addItem(item)
        if isinstance(layer, HeatmapLayer):
            self.colormap.setCurrentText(layer.colormap)
            self.threshold.setValue(round(layer.threshold * 100))
        self._syncing = False

    def _set(self, attribute: str, value: object) -> None:
        layer = self.selected_layer()
        if layer is not None and not self._syncing and hasattr(layer, attribute):
            self._syncing = True
            setattr(layer, attribute, value)
            self._syncing = False

    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._syncing:
            return
        layer: Layer = item.data(Qt.UserRole)
        self._syncing = True
        layer.visible = item.checkState() == Qt.Checked
        self._syncing = False

    def _label_toggled(self, item: QListWidgetItem) -> None:
        layer = self.selected_layer()
        if self._syncing or not isinstance(layer, LabelLayer):
            return
        self._syncing = True
        layer.set_label_visible(item.data(Qt.UserRole), item.checkState() == Qt.Checked)
        self._syncing = False

    def _move(self, step: int) -> None:
        layer = self.selected_layer()
        if layer is not None and layer.removable:
            self.layers.move(layer, self.layers.index(layer) + step)

    def _remove(self) -> None:
        layer = self.selected_layer()
        if layer is not None and layer.removable:
            self.layers.remove(layer)
