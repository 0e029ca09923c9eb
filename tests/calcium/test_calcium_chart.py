"""The Agatston chart shared by the calcium PDF and the viewer (plugins.coronary_calcium_ct.chart), without Qt:
bars per artery and total in the arteries' label colours, the risk category of the total, None for results
that are not calcium scores."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ai.result import AnalysisResult, Measurement
from engine.geometry import Geometry
from engine.volume import Label, LabelMap
from plugins.coronary_calcium_ct.chart import TOTAL_COLOR, agatston_chart, agatston_figure, risk_lines


def _result(scores: dict[str, float]) -> AnalysisResult:
    geometry = Geometry((2, 4, 4), (0.5, 0.5, 3.0))
    labels = [Label(1, "LM calcium", (255, 64, 64)), Label(2, "LAD calcium", (64, 220, 64))]
    return AnalysisResult(label_map=LabelMap(np.zeros(geometry.shape, np.uint8), geometry, labels),
                          measurements=[Measurement("Agatston score", value, "1", region)
                                        for region, value in scores.items()]
                          + [Measurement("Calcium volume score", 99.0, "mm3", "LAD")])


def test_figure_has_one_bar_per_artery_and_the_total() -> None:
    chart = agatston_chart(_result({"LM": 4.5, "LAD": 120.0, "RCA": 30.3, "total": 154.8}))
    figure = agatston_figure(chart)
    axes = figure.axes[0]
    figure.canvas.draw()  # the Agg canvas every matplotlib Figure starts with: no pyplot, no Qt
    assert [label.get_text() for label in axes.get_xticklabels()] == ["LM", "LAD", "LCX", "RCA", "Total"]
    assert [bar.get_height() for bar in axes.patches] == [4.5, 120.0, 0.0, 30.3, 154.8]
    colours = [tuple(bar.get_facecolor()[:3]) for bar in axes.patches]
    assert colours[0] == pytest.approx((1.0, 64 / 255, 64 / 255)) and colours[4] == pytest.approx(TOTAL_COLOR)
    assert [text.get_text() for text in axes.texts] == ["4.5", "120.0", "0.0", "30.3", "154.8"]


@pytest.mark.parametrize(("total", "category"), [
    (0.0, "None (0)"), (10.0, "Minimal (1-10)"), (10.5, "Mild (11-100)"), (400.0, "Moderate (101-400)"),
    (400.5, "Severe (> 400)")])
def test_risk_lines_name_the_category_of_the_total(total: float, category: str) -> None:
    lines = risk_lines(agatston_chart(_result({"total": total})))
    assert lines[0] == f"Total Agatston {total:.1f}" and lines[1] == f"Risk category: {category}"
    assert lines[3].startswith("CAC-DRS Agatston grade A")


def test_results_without_a_total_agatston_score_have_no_chart() -> None:
    assert agatston_chart(AnalysisResult()) is None
    assert agatston_chart(_result({"LAD": 3.0})) is None
