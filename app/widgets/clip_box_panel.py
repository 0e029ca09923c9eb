"""Sliders for the 3D clipping box: a low and a high bound per patient axis (R-L, A-P, I-S)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSlider, QWidget

from app.viewer_model.volume_view_state import VolumeViewState

_AXES = ("R–L", "A–P", "I–S")
_STEPS = 100


class ClipBoxPanel(QWidget):
    """Six sliders bound to ``VolumeViewState.clip``."""

    def __init__(self, state: VolumeViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        self.sliders: list[tuple[QSlider, QSlider]] = []
        for axis, name in enumerate(_AXES):
            low, high = QSlider(Qt.Horizontal, self), QSlider(Qt.Horizontal, self)
            for slider, value in ((low, 0), (high, _STEPS)):
                slider.setRange(0, _STEPS)
                slider.setValue(value)
            self.sliders.append((low, high))
            for slider in (low, high):
                slider.valueChanged.connect(lambda _value, a=axis: self._changed(a))
            grid.addWidget(QLabel(name, self), axis, 0)
            grid.addWidget(low, axis, 1)
            grid.addWidget(high, axis, 2)
        reset = QPushButton("Full volume", self)
        reset.clicked.connect(self._reset)
        grid.addWidget(reset, len(_AXES), 0, 1, 3)

    def _changed(self, axis: int) -> None:
        low, high = self.sliders[axis]
        self.state.set_clip(axis, low.value() / _STEPS, high.value() / _STEPS)

    def _reset(self) -> None:
        for low, high in self.sliders:
            low.setValue(0)
            high.setValue(_STEPS)
        self.state.reset_clip()
