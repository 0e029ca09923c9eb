"""Choose a scale bar length: a round number of mm near a target fraction of the view width."""

from __future__ import annotations

_NICE_MM = (1, 2, 5, 10, 20, 50, 100, 200, 500)


def scale_bar_mm(mm_per_pixel: float, view_width_px: int, fraction: float = 0.2) -> float:
    """The largest round length (mm) not longer than ``fraction`` of the view."""
    target = mm_per_pixel * view_width_px * fraction
    fitting = [length for length in _NICE_MM if length <= target]
    return float(fitting[-1] if fitting else _NICE_MM[0])
