"""The Agatston bar chart of a coronary-calcium result (LM, LAD, LCX, RCA and the total) and its risk-category
text, drawn the same in the PDF report and in the viewer's AI panel. Qt-free; matplotlib is imported only
when a chart is drawn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.ai.result import AnalysisResult
from engine.geometry import float3

from .risk import RiskCategory, risk_category
from .rules import ARTERIES

NAMES = tuple(ARTERIES.values())
TOTAL = "Total"
TOTAL_COLOR = (0.35, 0.35, 0.35)
NO_LABEL_COLOR = (0.6, 0.6, 0.6)


@dataclass(frozen=True)
class AgatstonChart:
    """Agatston score per artery (in NAMES order) and in total, the arteries' label colours (RGB 0..1) and the
    risk category of the total."""

    scores: dict[str, float]
    total: float
    colors: dict[str, tuple[float, float, float]]
    category: RiskCategory

    @property
    def bars(self) -> list[tuple[str, float, tuple[float, float, float]]]:
        """(name, height, colour) of each bar, left to right: the arteries, then the total."""
        return [(name, self.scores[name], self.colors[name]) for name in NAMES] + [(TOTAL, self.total, TOTAL_COLOR)]


def agatston_chart(result: AnalysisResult) -> AgatstonChart | None:
    """The chart of ``result``; None when it has no total Agatston score (not a calcium result)."""
    scores = {m.region: m.value for m in result.measurements if m.name == "Agatston score" and m.region}
    if "total" not in scores:
        return None
    labels = result.label_map.labels if result.label_map is not None else []
    by_artery = {label.name.split()[0]: float3(c / 255 for c in label.color) for label in labels if label.name}
    return AgatstonChart(
        scores={name: scores.get(name, 0.0) for name in NAMES},
        total=scores["total"],
        colors={name: by_artery.get(name, NO_LABEL_COLOR) for name in NAMES},
        category=risk_category(scores["total"]),
    )


def risk_lines(chart: AgatstonChart) -> list[str]:
    """The total, its risk category with the category's score range, what it means and the CAC-DRS grade."""
    category = chart.category
    return [f"Total Agatston {chart.total:.1f}",
            f"Risk category: {category.name} ({category.range_text})",
            category.meaning,
            f"CAC-DRS Agatston grade {category.cac_drs}"]


def plot_agatston(axes: Any, chart: AgatstonChart) -> None:
    """Bars of the arteries (their label colours) and the total (grey) on matplotlib ``axes``, valued on top."""
    names, heights, colors = zip(*chart.bars, strict=True)
    bars = axes.bar(names, heights, color=colors, edgecolor="black", linewidth=0.5)
    axes.bar_label(bars, labels=[f"{h:.1f}" for h in heights], fontsize=7)
    axes.set_ylim(0, max(max(heights), 1.0) * 1.2)
    axes.set_title("Agatston score per artery", fontsize=9)
    axes.tick_params(labelsize=8)


def agatston_figure(chart: AgatstonChart, size_in: tuple[float, float] = (3.4, 2.0), dpi: int = 100) -> Any:
    """A matplotlib Figure holding only the chart (no pyplot: any canvas, Agg or Qt, can draw it)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=size_in, dpi=dpi, layout="constrained")
    plot_agatston(figure.add_subplot(), chart)
    return figure
