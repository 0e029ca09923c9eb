"""QPainter drawing on top of a 2D view: orientation letters, corner text, scale bar, crosshair, colour bar,
markers and measurements."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QLinearGradient, QPainter, QPen

from app.render.colormaps import colormap
from app.viewer_model.layers import HeatmapLayer, MarkerLayer
from app.viewer_model.measurements import Measurement
from app.viewer_model.plane import SlicePlane
from app.viewer_model.scale_bar import scale_bar_mm

TEXT = QColor(235, 235, 235)
LETTER = QColor(255, 210, 80)
CROSSHAIR = QColor(80, 200, 255, 170)
MEASURE = QColor(120, 255, 120)
SELECTED = QColor(255, 160, 40)
MARGIN = 6


def text_font() -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(12)
    return font


def draw_shadowed(painter: QPainter, x: float, y: float, text: str, color: QColor = TEXT) -> None:
    """Text with a dark shadow, readable on any grey level."""
    painter.setPen(QColor(0, 0, 0, 220))
    painter.drawText(QPointF(x + 1, y + 1), text)
    painter.setPen(color)
    painter.drawText(QPointF(x, y), text)


def draw_corner_text(painter: QPainter, width: int, height: int, corners: dict[str, list[str]]) -> None:
    metrics = QFontMetrics(painter.font())
    line = metrics.height()
    for corner, lines in corners.items():
        top = corner.startswith("top")
        for i, text in enumerate(lines if top else list(reversed(lines))):
            x = MARGIN if corner.endswith("left") else width - MARGIN - metrics.horizontalAdvance(text)
            bottom_y = height - MARGIN - metrics.descent() - i * line
            y = MARGIN + metrics.ascent() + i * line if top else bottom_y
            draw_shadowed(painter, x, y, text)


def draw_edge_letters(painter: QPainter, width: int, height: int, letters: dict[str, str]) -> None:
    font = QFont(painter.font())
    font.setPixelSize(16)
    font.setBold(True)
    painter.save()
    painter.setFont(font)
    metrics = QFontMetrics(font)
    advance = {edge: metrics.horizontalAdvance(text) for edge, text in letters.items()}
    middle_y = height / 2 + metrics.ascent() / 2
    positions = {
        "left": (MARGIN, middle_y),
        "right": (width - MARGIN - advance["right"], middle_y),
        "top": (width / 2 - advance["top"] / 2, MARGIN + metrics.ascent()),
        "bottom": (width / 2 - advance["bottom"] / 2, height - MARGIN - metrics.descent()),
    }
    for edge, (x, y) in positions.items():
        draw_shadowed(painter, x, y, letters[edge], LETTER)
    painter.restore()


def draw_scale_bar(painter: QPainter, plane: SlicePlane) -> None:
    """A horizontal bar of a round length in mm, above the bottom letter."""
    length_mm = scale_bar_mm(plane.mm_per_pixel, plane.width)
    length_px = length_mm / plane.mm_per_pixel
    x0, y = plane.width / 2 - length_px / 2, plane.height - 34
    painter.setPen(QPen(TEXT, 2))
    painter.drawLine(QPointF(x0, y), QPointF(x0 + length_px, y))
    for x in (x0, x0 + length_px):
        painter.drawLine(QPointF(x, y - 4), QPointF(x, y + 4))
    label = f"{length_mm:g} mm" if length_mm < 10 else f"{length_mm / 10:g} cm"
    draw_shadowed(painter, x0 + length_px + 6, y + 4, label)


def draw_crosshair(painter: QPainter, plane: SlicePlane, point: np.ndarray) -> None:
    x, y = plane.patient_to_pixel(point)
    gap = 12
    painter.setPen(QPen(CROSSHAIR, 1))
    painter.drawLine(QPointF(0, y), QPointF(x - gap, y))
    painter.drawLine(QPointF(x + gap, y), QPointF(plane.width, y))
    painter.drawLine(QPointF(x, 0), QPointF(x, y - gap))
    painter.drawLine(QPointF(x, y + gap), QPointF(x, plane.height))


def draw_color_bar(painter: QPainter, plane: SlicePlane, layer: HeatmapLayer) -> None:
    """A vertical colour bar at the right edge: threshold..1 bottom to top."""
    table = colormap(layer.colormap)
    rect = QRectF(plane.width - 22, plane.height * 0.3, 10, plane.height * 0.4)
    gradient = QLinearGradient(rect.bottomLeft(), rect.topLeft())
    for stop in np.linspace(0, 1, 9):
        value = layer.threshold + stop * (1 - layer.threshold)
        r, g, b = table[int(round(value * 255))]
        gradient.setColorAt(float(stop), QColor(int(r), int(g), int(b)))
    painter.fillRect(rect, gradient)
    painter.setPen(QPen(TEXT, 1))
    painter.drawRect(rect)
    metrics = QFontMetrics(painter.font())
    top_label, bottom_label = "1.0", f"{layer.threshold:.2f}"
    draw_shadowed(painter, rect.right() - metrics.horizontalAdvance(top_label), rect.top() - 4, top_label)
    draw_shadowed(painter, rect.right() - metrics.horizontalAdvance(bottom_label),
                  rect.bottom() + metrics.ascent() + 2, bottom_label)


def draw_markers(painter: QPainter, plane: SlicePlane, layer: MarkerLayer, slab_mm: float) -> None:
    """Boxes cut by the plane as rectangles, points within half a slice as crosses, each with its text."""
    for marker in layer.markers:
        center = np.asarray(marker.center, float)
        color = QColor(*marker.color)
        painter.setPen(QPen(color, 2))
        x, y = plane.patient_to_pixel(center)
        if marker.size is None:
            if abs(plane.distance_to_plane(center)) > slab_mm / 2:
                continue
            painter.drawLine(QPointF(x - 6, y), QPointF(x + 6, y))
            painter.drawLine(QPointF(x, y - 6), QPointF(x, y + 6))
            text_at = QPointF(x + 8, y - 8)
        else:
            half = np.asarray(marker.size, float) / 2
            reach = float(np.abs(plane.axes.normal) @ half)
            if abs(plane.distance_to_plane(center)) > reach + slab_mm / 2:
                continue
            half_w = float(np.abs(plane.axes.right) @ half) / plane.mm_per_pixel
            half_h = float(np.abs(plane.axes.down) @ half) / plane.mm_per_pixel
            painter.setBrush(Qt.NoBrush)
            painter.drawRect(QRectF(x - half_w, y - half_h, 2 * half_w, 2 * half_h))
            text_at = QPointF(x - half_w, y - half_h - 4)
        if marker.text:
            draw_shadowed(painter, text_at.x(), text_at.y(), marker.text, color)


def draw_measurement(painter: QPainter, plane: SlicePlane, measurement: Measurement, selected: bool,
                     slab_mm: float) -> None:
    """A measurement drawn on the plane it lies in (within half a slice)."""
    if any(abs(plane.distance_to_plane(p)) > slab_mm / 2 for p in measurement.points):
        return
    color = SELECTED if selected else MEASURE
    painter.setPen(QPen(color, 2 if selected else 1.5))
    painter.setBrush(Qt.NoBrush)
    pixels = [QPointF(*plane.patient_to_pixel(p)) for p in measurement.points]
    if measurement.kind == "ruler":
        painter.drawLine(pixels[0], pixels[1])
        anchor = pixels[1]
    elif measurement.kind == "probe":
        p = pixels[0]
        painter.drawEllipse(p, 3, 3)
        anchor = p
    else:
        rect = QRectF(pixels[0], pixels[1]).normalized()
        (painter.drawEllipse if measurement.kind == "ellipse" else painter.drawRect)(rect)
        anchor = rect.bottomRight()
    if measurement.values:
        text = measurement.summary()
        x = min(anchor.x() + 6, plane.width - QFontMetrics(painter.font()).horizontalAdvance(text) - MARGIN)
        draw_shadowed(painter, max(x, MARGIN), anchor.y() + 14, text, color)
