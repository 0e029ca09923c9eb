"""QPainter drawing on top of a 2D view: orientation letters, corner text, scale bar, crosshair, colour bar,
markers and measurements."""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen

from app.render.colormaps import colormap
from app.viewer_model.layers import HeatmapLayer, MarkerLayer
from app.viewer_model.measurements import Measurement, handles, on_plane, roi_corners
from app.viewer_model.plane import SlicePlane
from app.widgets.text_layout import PlacedText, ScaleBar

TEXT = QColor(235, 235, 235)
LETTER = QColor(255, 210, 80)
CROSSHAIR = QColor(70, 175, 220)  # opaque: translucent lines cost ~1 ms each to paint
MEASURE = QColor(120, 255, 120)
SELECTED = QColor(255, 160, 40)
KEY_IMAGE = QColor(255, 220, 60)
MARGIN = 6
CROSSHAIR_EDGE = 26


@cache
def text_font() -> QFont:
    """The annotation font (shared: copy it before changing it). Unhinted, so that text is laid out and drawn
    alike whatever hinting the machine's font configuration asks for (screenshots compare across machines)."""
    font = QFont("DejaVu Sans")
    font.setPixelSize(12)
    font.setHintingPreference(QFont.PreferNoHinting)
    return font


@cache
def letter_font() -> QFont:
    """The bold, larger font of the orientation letters."""
    font = QFont(text_font())
    font.setPixelSize(16)
    font.setBold(True)
    return font


def draw_shadowed(painter: QPainter, x: float, y: float, text: str, color: QColor = TEXT) -> None:
    """Text with a dark shadow, readable on any grey level."""
    painter.setPen(QColor(0, 0, 0, 220))
    painter.drawText(QPointF(x + 1, y + 1), text)
    painter.setPen(color)
    painter.drawText(QPointF(x, y), text)


def draw_texts(painter: QPainter, texts: list[PlacedText], color: QColor = TEXT) -> None:
    for text in texts:
        draw_shadowed(painter, text.x, text.y, text.text, color)


def draw_edge_letters(painter: QPainter, letters: list[PlacedText]) -> None:
    painter.save()
    painter.setFont(letter_font())
    draw_texts(painter, letters, LETTER)
    painter.restore()


def draw_scale_bar(painter: QPainter, bar: ScaleBar) -> None:
    """A horizontal bar of a round length with end ticks, and its label."""
    painter.setPen(QPen(TEXT, 2))
    painter.drawLine(QPointF(bar.x0, bar.y), QPointF(bar.x1, bar.y))
    for x in (bar.x0, bar.x1):
        painter.drawLine(QPointF(x, bar.y - 4), QPointF(x, bar.y + 4))
    draw_texts(painter, [bar.label])


def draw_crosshair(painter: QPainter, plane: SlicePlane, point: np.ndarray,
                   directions: list[np.ndarray] | None = None) -> None:
    """Lines through ``point`` with a gap around it: screen-aligned ones snapped to whole pixels, or, once the
    views are oblique, along the screen ``directions`` of the other views' planes (drawn a little thicker,
    with a handle at each end to show that Ctrl+drag turns them)."""
    x, y = (round(v) for v in plane.patient_to_pixel(point))
    gap = 12
    edge = CROSSHAIR_EDGE  # the lines stop short of the view edges, clear of the orientation letters
    if directions and any(min(abs(d[0]), abs(d[1])) > 1e-6 for d in directions):
        _draw_turned_crosshair(painter, plane, plane.patient_to_pixel(point), directions, gap, edge)
        return
    painter.save()
    painter.setRenderHint(QPainter.Antialiasing, False)
    painter.setPen(QPen(CROSSHAIR, 1))
    painter.drawLine(edge, y, x - gap, y)
    painter.drawLine(x + gap, y, plane.width - edge, y)
    painter.drawLine(x, edge, x, y - gap)
    painter.drawLine(x, y + gap, x, plane.height - edge)
    painter.restore()


def _draw_turned_crosshair(painter: QPainter, plane: SlicePlane, centre: tuple[float, float],
                           directions: list[np.ndarray], gap: float, edge: float) -> None:
    cx, cy = centre
    painter.save()
    painter.setPen(QPen(CROSSHAIR, 1.5))
    painter.setBrush(CROSSHAIR)
    for dx, dy in directions:
        reach = _reach(cx, cy, dx, dy, plane.width, plane.height, edge)
        for sign in (1, -1):
            far = reach[0 if sign > 0 else 1]
            if far <= gap:
                continue
            start = QPointF(cx + sign * dx * gap, cy + sign * dy * gap)
            end = QPointF(cx + sign * dx * far, cy + sign * dy * far)
            painter.drawLine(start, end)
            painter.drawEllipse(end, 3, 3)
    painter.restore()


def _reach(cx: float, cy: float, dx: float, dy: float, width: int, height: int, edge: float) -> tuple[float, float]:
    """How far a line from (cx, cy) runs along +(dx, dy) and -(dx, dy) before leaving the view's inner box."""
    result = []
    for sign in (1, -1):
        limits = []
        for c, d, size in ((cx, sign * dx, width), (cy, sign * dy, height)):
            if d > 1e-9:
                limits.append((size - edge - c) / d)
            elif d < -1e-9:
                limits.append((edge - c) / d)
        result.append(max(min(limits), 0.0) if limits else 0.0)
    return result[0], result[1]


def draw_color_bar(painter: QPainter, plane: SlicePlane, layer: HeatmapLayer, right: float) -> None:
    """A vertical colour bar ending at x = ``right`` (left of the right letter): threshold..1 bottom to top."""
    rect = QRectF(right - 10, plane.height * 0.3, 10, plane.height * 0.4)
    painter.drawImage(rect.topLeft(), _color_bar_image(layer.colormap, layer.threshold, round(rect.height())))
    painter.setPen(QPen(TEXT, 1))
    painter.drawRect(rect)
    metrics = QFontMetrics(painter.font())
    top_label, bottom_label = "1.0", f"{layer.threshold:.2f}"
    draw_shadowed(painter, rect.right() - metrics.horizontalAdvance(top_label), rect.top() - 4, top_label)
    draw_shadowed(painter, rect.right() - metrics.horizontalAdvance(bottom_label),
                  rect.bottom() + metrics.ascent() + 2, bottom_label)


@lru_cache(maxsize=16)
def _color_bar_image(name: str, threshold: float, height: int) -> QImage:
    """The bar's pixels, 10 wide, painted once per colormap / threshold / height (a gradient fill per
    frame costs more than the whole overlay blend)."""
    values = threshold + np.linspace(1, 0, max(height, 1)) * (1 - threshold)
    rgb = colormap(name)[np.rint(values * 255).astype(int)].astype(np.uint32)
    rows = (0xFF000000 | rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]).astype(np.uint32)
    pixels = np.ascontiguousarray(np.repeat(rows[:, None], 10, axis=1))
    return QImage(pixels.data, 10, pixels.shape[0], 40, QImage.Format_RGB32).copy()


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
    """A measurement drawn on the plane it lies in (within half a slice), its value beside it; the selected
    one in another colour with its handles."""
    if not on_plane(measurement, plane, slab_mm):
        return
    color = SELECTED if selected else MEASURE
    painter.setPen(QPen(color, 2 if selected else 1.5))
    painter.setBrush(Qt.NoBrush)
    pixels = [QPointF(*plane.patient_to_pixel(p)) for p in measurement.points]
    kind = measurement.kind
    anchor = pixels[-1]
    if kind in ("ruler", "angle"):
        painter.drawPolyline(pixels)
        anchor = pixels[1] if kind == "angle" else pixels[-1]
    elif kind == "cobb":
        painter.drawLine(pixels[0], pixels[1])
        if len(pixels) == 4:
            painter.drawLine(pixels[2], pixels[3])
            painter.setPen(QPen(color, 1, Qt.DashLine))  # the two lines' midpoints joined: which lines pair
            painter.drawLine((pixels[0] + pixels[1]) / 2, (pixels[2] + pixels[3]) / 2)
            painter.setPen(QPen(color, 2 if selected else 1.5))
    elif kind == "probe":
        painter.drawEllipse(pixels[0], 3, 3)
    elif kind == "arrow":
        _draw_arrow(painter, pixels[1], pixels[0])
    else:
        corners = [QPointF(*plane.patient_to_pixel(c)) for c in roi_corners(measurement)]
        if kind == "rectangle":
            painter.drawPolygon(corners)
        else:
            center, half_u, half_v = measurement.roi_box()
            c = QPointF(*plane.patient_to_pixel(center))
            painter.drawEllipse(c, half_u / plane.mm_per_pixel, half_v / plane.mm_per_pixel)
        anchor = max(corners, key=lambda p: (p.y(), p.x()))
    if selected:
        painter.setBrush(color)
        for handle in handles(measurement):
            x, y = plane.patient_to_pixel(handle)
            painter.drawRect(QRectF(x - 3, y - 3, 6, 6))
        painter.setBrush(Qt.NoBrush)
    text = measurement.summary() if measurement.values or kind == "arrow" else ""
    if text:
        x = min(anchor.x() + 6, plane.width - QFontMetrics(painter.font()).horizontalAdvance(text) - MARGIN)
        draw_shadowed(painter, max(x, MARGIN), anchor.y() + 14, text, color)


def draw_key_image_mark(painter: QPainter, plane: SlicePlane) -> None:
    """"KEY IMAGE" under the top orientation letter of a view that shows a flagged image."""
    text = "★ KEY IMAGE"
    width = QFontMetrics(painter.font()).horizontalAdvance(text)
    draw_shadowed(painter, (plane.width - width) / 2, 44, text, KEY_IMAGE)


def _draw_arrow(painter: QPainter, tail: QPointF, tip: QPointF) -> None:
    """A line from ``tail`` to ``tip`` with a filled head at the tip."""
    painter.drawLine(tail, tip)
    dx, dy = tip.x() - tail.x(), tip.y() - tail.y()
    length = max(float(np.hypot(dx, dy)), 1e-9)
    ux, uy = dx / length, dy / length
    size = 10.0
    left = QPointF(tip.x() - size * ux + size * 0.45 * uy, tip.y() - size * uy - size * 0.45 * ux)
    right = QPointF(tip.x() - size * ux - size * 0.45 * uy, tip.y() - size * uy + size * 0.45 * ux)
    painter.save()
    painter.setBrush(painter.pen().color())
    painter.drawPolygon([tip, left, right])
    painter.restore()
