"""The 3D view: volume rendering (offscreen VTK -> QImage) with the label layers as surfaces, preset choice,
rotate / zoom / reset and a clipping box."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetrics, QImage, QMouseEvent, QPainter, QPaintEvent, QWheelEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from app.render.scene import Scene
from app.render.volume_renderer import VolumeRenderer
from app.viewer_model.model import ViewerModel
from app.viewer_model.volume_view_state import VolumeViewState
from app.widgets import text_layout, view_painter
from app.widgets.clip_box_panel import ClipBoxPanel

NO_3D_FOR_COLOUR = "3D: not available for colour (RGB) images"
LABEL_EDIT_DELAY_MS = 300  # surfaces follow label edits once a brush stroke pauses, not at every mouse move


class VolumeCanvas(QWidget):
    """Paints the rendered volume; left drag rotates, right drag / wheel zooms."""

    activated = Signal(str)

    def __init__(self, model: ViewerModel, scene: Scene, state: VolumeViewState,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.scene, self.state = model, scene, state
        self.renderer: VolumeRenderer | None = None
        self.last_rgb = None
        self._drag: tuple[Qt.MouseButton, QPointF] | None = None
        self.setObjectName("view_3d")
        self.setFocusPolicy(Qt.StrongFocus)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self._label_edit = QTimer(self)
        self._label_edit.setSingleShot(True)
        self._label_edit.setInterval(LABEL_EDIT_DELAY_MS)
        self._label_edit.timeout.connect(self.update)
        model.volume_changed.connect(self._volume_changed)
        model.layers.changed.connect(self._layers_changed)
        state.changed.connect(self._state_changed)

    def _volume_changed(self) -> None:
        if self.renderer is not None:
            self.renderer.set_layers([])  # the old renderer stops listening to label edits
        self.renderer = None
        self.update()

    def _layers_changed(self) -> None:
        if self.renderer is not None:
            self.renderer.set_layers(list(self.model.layers))
        self.update()

    def _state_changed(self) -> None:
        if self.renderer is not None:
            self.renderer.apply_state()
        self.update()

    def ensure_renderer(self) -> VolumeRenderer | None:
        volume = self.model.volume
        drawable = volume is not None and not volume.geometry.is_projection and not volume.is_colour
        if self.renderer is None and drawable:
            self.renderer = VolumeRenderer(self.scene.image, self.state, self._label_edit.start)
            self.renderer.set_layers(list(self.model.layers))
        return self.renderer

    def reset(self) -> None:
        if self.ensure_renderer() is not None:
            self.renderer.reset_camera()
            self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        renderer = self.ensure_renderer()
        if renderer is not None:
            rgb = self.last_rgb = renderer.render(self.width(), self.height())
            image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], 3 * rgb.shape[1], QImage.Format_RGB888)
            painter.drawImage(0, 0, image)
            self._caption(painter, f"3D  {self.state.preset['name']}")
        elif self.model.volume is not None and self.model.volume.is_colour:
            self._caption(painter, NO_3D_FOR_COLOUR)
        painter.end()

    def _caption(self, painter: QPainter, text: str) -> None:
        painter.setFont(view_painter.text_font())
        view_painter.draw_texts(painter, text_layout.corner_lines(
            QFontMetrics(painter.font()), self.width(), self.height(), {"bottom_left": [text]}, []))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.activated.emit("3d")
        self.setFocus()
        self._drag = (event.button(), event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is None or self.renderer is None:
            return
        button, last = self._drag
        dx, dy = event.position().x() - last.x(), event.position().y() - last.y()
        self._drag = (button, event.position())
        if button == Qt.LeftButton:
            self.renderer.rotate(dx, dy)
        elif button == Qt.RightButton:
            self.renderer.zoom(1.01 ** (-dy))
        self.update()

    def mouseReleaseEvent(self, _event: QMouseEvent) -> None:  # noqa: N802
        self._drag = None

    def mouseDoubleClickEvent(self, _event: QMouseEvent) -> None:  # noqa: N802
        self.model.toggle_maximize("3d")

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if self.renderer is not None:
            self.renderer.zoom(1.1 ** (event.angleDelta().y() / 120.0))
            self.update()


class VolumeView(QWidget):
    """The 3D canvas with a preset chooser and a clipping-box toggle above it."""

    def __init__(self, model: ViewerModel, scene: Scene, state: VolumeViewState,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.canvas = VolumeCanvas(model, scene, state, self)
        self.presets = QComboBox(self)
        self.presets.setObjectName("volume_presets")
        self.presets.activated.connect(state.set_preset)
        self.clip_button = QToolButton(self)
        self.clip_button.setText("Clip box")
        self.clip_button.setCheckable(True)
        self.clip_panel = ClipBoxPanel(state, self)
        self.clip_panel.setVisible(False)
        self.clip_button.toggled.connect(self.clip_panel.setVisible)
        reset = QToolButton(self)
        reset.setText("Reset")
        reset.clicked.connect(self.canvas.reset)
        bar = QHBoxLayout()
        bar.setContentsMargins(2, 2, 2, 2)
        bar.addWidget(self.presets, 1)
        bar.addWidget(self.clip_button)
        bar.addWidget(reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.clip_panel)
        layout.addWidget(self.canvas, 1)
        state.changed.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        names = [preset["name"] for preset in self.state.presets()]
        if [self.presets.itemText(i) for i in range(self.presets.count())] != names:
            self.presets.clear()
            self.presets.addItems(names)
        self.presets.setCurrentIndex(self.state.preset_index)
