"""Sliders for the 3D clipping box: a low and a high bound per patient axis (R-L, A-P, I-S)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSlider, QWidget

from app.viewer_model.volume_view_state import VolumeViewState

_AXES = ("R–L", "A–P", "I–S")
_STEPS = 100


class ClipBoxPanel(QWidget):
    """Six sliders bound to ``VolumeViewState.clip`` both ways (a new volume resets the box, and the
    sliders follow)."""

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
        reset.clicked.connect(state.reset_clip)
        grid.addWidget(reset, len(_AXES), 0, 1, 3)
        state.changed.connect(self._sync)

    def _changed(self, axis: int) -> None:
        low, high = self.sliders[axis]
        self.state.set_clip(axis, low.value() / _STEPS, high.value() / _STEPS)

    def _sync(self) -> None:
        """Show the state's box where the sliders do not already (a low slider dragged past its high one
        stays where it is); signals blocked, so nothing is written back."""
        for (low, high), (start, end) in zip(self.sliders, self.state.clip, strict=True):
            wanted = (round(start * _STEPS), round(end * _STEPS))
            if tuple(sorted((low.value(), high.value()))) == wanted:
                continue
            for slider, value in zip((low, high), wanted, strict=True):
                slider.blockSignals(True)
                slider.setValue(value)
                slider.blockSignals(False)
