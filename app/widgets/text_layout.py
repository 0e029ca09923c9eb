"""Where a 2D view's text goes: orientation letters, the scale bar and its label, and the four corner texts,
placed so that nothing overlaps in narrow views (Weasis / OHIF style: a corner line that does not fit loses
words from its end, marked "…", and is dropped when not even a few characters fit).

Corner lines avoid the centre items of their band (top letter; bottom letter and scale bar) and, on a row
shared by a left and a right line, split the free width: the shorter line keeps its length.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetrics

from app.viewer_model.plane import SlicePlane
from app.viewer_model.scale_bar import scale_bar_mm

MARGIN = 6
GAP = 10  # pixels kept free between neighbouring texts
MIN_ELIDED_CHARS = 4  # a corner line elided below this is dropped
SCALE_BAR_RISE = 50  # the bar's height above the bottom edge: above two rows of corner text


@dataclass(frozen=True)
class PlacedText:
    """A text with its baseline origin (x, y) and its bounding box on the view."""

    text: str
    x: float
    y: float
    rect: QRectF


@dataclass(frozen=True)
class ScaleBar:
    """A horizontal bar from (x0, y) to (x1, y) with ticks, and its length label."""

    x0: float
    x1: float
    y: float
    label: PlacedText

    @property
    def rect(self) -> QRectF:
        return QRectF(self.x0, self.y - 4, self.x1 - self.x0, 8).united(self.label.rect)


def placed(metrics: QFontMetrics, text: str, x: float, y: float) -> PlacedText:
    """``text`` drawn with its baseline at (x, y), and the box it covers (shadow included)."""
    rect = QRectF(x, y - metrics.ascent(), metrics.horizontalAdvance(text) + 1, metrics.height() + 1)
    return PlacedText(text, x, y, rect)


def edge_letters(metrics: QFontMetrics, width: int, height: int, letters: dict[str, str]) -> dict[str, PlacedText]:
    """The patient-direction letter at the middle of each edge."""
    advance = {edge: metrics.horizontalAdvance(text) for edge, text in letters.items()}
    middle_y = height / 2 + metrics.ascent() / 2
    origins = {
        "left": (MARGIN, middle_y),
        "right": (width - MARGIN - advance["right"], middle_y),
        "top": (width / 2 - advance["top"] / 2, MARGIN + metrics.ascent()),
        "bottom": (width / 2 - advance["bottom"] / 2, height - MARGIN - metrics.descent()),
    }
    return {edge: placed(metrics, letters[edge], x, y) for edge, (x, y) in origins.items()}


def scale_bar(metrics: QFontMetrics, plane: SlicePlane) -> ScaleBar:
    """A round length (mm or cm) centred above the bottom letter, its label to the right."""
    length_mm = scale_bar_mm(plane.mm_per_pixel, plane.width)
    length_px = length_mm / plane.mm_per_pixel
    x0, y = plane.width / 2 - length_px / 2, plane.height - SCALE_BAR_RISE
    label = f"{length_mm:g} mm" if length_mm < 10 else f"{length_mm / 10:g} cm"
    return ScaleBar(x0, x0 + length_px, y, placed(metrics, label, x0 + length_px + 6, y + 4))


def corner_lines(metrics: QFontMetrics, width: int, height: int, corners: dict[str, list[str]],
                 keep_out: list[QRectF]) -> list[PlacedText]:
    """The corner texts, line by line from each corner inwards, elided to fit beside ``keep_out``."""
    line = metrics.height() + 1  # the shadow takes one more pixel
    result: list[PlacedText] = []
    for vertical in ("top", "bottom"):
        left, right = corners.get(f"{vertical}_left", []), corners.get(f"{vertical}_right", [])
        if vertical == "bottom":  # bottom corners grow upwards: their last line sits on the edge
            left, right = left[::-1], right[::-1]
        for row in range(max(len(left), len(right))):
            y = (MARGIN + metrics.ascent() + row * line if vertical == "top"
                 else height - MARGIN - metrics.descent() - row * line)
            pair = (left[row] if row < len(left) else "", right[row] if row < len(right) else "")
            result.extend(_row(metrics, width, y, pair, keep_out))
    return result


def _row(metrics: QFontMetrics, width: int, y: float, pair: tuple[str, str],
         keep_out: list[QRectF]) -> list[PlacedText]:
    """One row: the left text from the left margin, the right text up to the right margin."""
    band = QRectF(0, y - metrics.ascent(), width, metrics.height() + 1)
    blockers = [rect for rect in keep_out if rect.intersects(band)]
    left_limit = min([rect.left() for rect in blockers] + [width - MARGIN + GAP]) - GAP
    right_limit = max([rect.right() for rect in blockers] + [MARGIN - GAP]) + GAP
    left_text, right_text = pair
    widths = [min(metrics.horizontalAdvance(left_text), left_limit - MARGIN) if left_text else 0.0,
              min(metrics.horizontalAdvance(right_text), width - MARGIN - right_limit) if right_text else 0.0]
    shared = width - 2 * MARGIN - GAP
    if left_text and right_text and widths[0] + widths[1] > shared:
        if widths[0] <= shared / 2:
            widths[1] = shared - widths[0]
        elif widths[1] <= shared / 2:
            widths[0] = shared - widths[1]
        else:
            widths = [shared / 2, shared / 2]
    row = []
    for text, room, on_left in ((left_text, widths[0], True), (right_text, widths[1], False)):
        fitted = _fit(metrics, text, room)
        if fitted:
            x = MARGIN if on_left else width - MARGIN - metrics.horizontalAdvance(fitted)
            row.append(placed(metrics, fitted, x, y))
    return row


def _fit(metrics: QFontMetrics, text: str, room: float) -> str:
    """``text``, shortened to ``room`` pixels: whole words are dropped from the end (never half a number:
    "W 400  L 40" becomes "W 400 …", not "W 40…"); a first word without digits may be cut; empty when
    fewer than a few characters would remain."""
    if not text or room <= 0:
        return ""
    if metrics.horizontalAdvance(text) <= room:
        return text
    words = text.split()
    for count in range(len(words) - 1, 0, -1):
        shortened = " ".join(words[:count]) + " …"
        if metrics.horizontalAdvance(shortened) <= room:
            return shortened if len(shortened) - 2 >= MIN_ELIDED_CHARS else ""
    if any(character.isdigit() for character in words[0]):
        return ""
    elided = metrics.elidedText(text, Qt.ElideRight, int(room))
    return elided if len(elided.rstrip("…")) >= MIN_ELIDED_CHARS else ""
