"""Draws Sightline's icon: writes ``sightline.svg`` and renders it to ``sightline.png`` (256 px) with QtSvg.

The design is a dark rounded tile holding an axial "slice" (a grey disc), a lens ring and a bright
crosshair: a reading workstation that looks closely. Run ``python resources/packaging/make_icon.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = 256

SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" viewBox="0 0 256 256">
  <defs>
    <radialGradient id="slice" cx="0.45" cy="0.4" r="0.6">
      <stop offset="0" stop-color="#d8dee6"/><stop offset="0.7" stop-color="#7d8895"/>
      <stop offset="1" stop-color="#3b434d"/>
    </radialGradient>
  </defs>
  <rect x="8" y="8" width="240" height="240" rx="44" fill="#15202b"/>
  <circle cx="128" cy="128" r="82" fill="url(#slice)"/>
  <ellipse cx="104" cy="122" rx="22" ry="34" fill="#2b323a" opacity="0.55"/>
  <ellipse cx="152" cy="122" rx="22" ry="34" fill="#2b323a" opacity="0.55"/>
  <circle cx="150" cy="104" r="30" fill="none" stroke="#ffb000" stroke-width="10"/>
  <line x1="150" y1="62" x2="150" y2="84" stroke="#ffb000" stroke-width="6" stroke-linecap="round"/>
  <line x1="150" y1="124" x2="150" y2="146" stroke="#ffb000" stroke-width="6" stroke-linecap="round"/>
  <line x1="108" y1="104" x2="130" y2="104" stroke="#ffb000" stroke-width="6" stroke-linecap="round"/>
  <line x1="170" y1="104" x2="192" y2="104" stroke="#ffb000" stroke-width="6" stroke-linecap="round"/>
  <line x1="172" y1="126" x2="214" y2="168" stroke="#ffb000" stroke-width="14" stroke-linecap="round"/>
</svg>
"""


def write_icons(folder: Path = HERE, size: int = SIZE) -> tuple[Path, Path]:
    """Write the SVG and its PNG rendering into ``folder``; returns both paths."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (QPainter needs one)
    svg = folder / "sightline.svg"
    svg.write_text(SVG.format(s=size))
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    png = folder / "sightline.png"
    if not image.save(str(png)):
        raise OSError(f"cannot write {png}")
    return svg, png


if __name__ == "__main__":
    print(*write_icons(), sep="\n")
