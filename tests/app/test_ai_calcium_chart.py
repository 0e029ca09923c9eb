"""The AI panel's coronary-calcium chart and warning line: a coronary_calcium_ct result shows the Agatston bars
(LM, LAD, LCX, RCA, total: heights = the result's scores) beside its risk category in words; other results
hide the chart; warnings show as a visible "WARNING:" line. matplotlib loads with the first chart only."""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

import pytest

from engine.ai.registry import discover
from engine.ai.result import AnalysisResult, Measurement
from engine.ai.runner import run_plugin
from engine.analysis.exports import ExportSource
from tests.app.conftest import cube_volume, save_artifact
from training.phantoms.cardiac_ct import make_cardiac_ct

PLUGIN = "coronary_calcium_ct"
BARS = ("LM", "LAD", "LCX", "RCA", "Total")


@pytest.fixture(scope="module")
def calcium(tmp_path_factory: pytest.TempPathFactory):
    """The shipped plugin's result on a small phantom with calcium in three arteries, and the CT."""
    registry = discover()
    if PLUGIN not in registry.plugins:
        pytest.fail(f"the shipped plugin {PLUGIN} is missing: {registry.problems}")
    volume = make_cardiac_ct(1, size=384, slices=24).volume()  # 0.75 mm pixels: inside the validated 0.2-1 mm
    log = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    return run_plugin(PLUGIN, {"ct": volume}, registry=registry, audit_log=log), volume


def show(window, result: AnalysisResult, volume) -> None:
    """Show ``volume`` and its ``result`` (a result shows only over the study it was computed on)."""
    window.show_volume(volume)
    window.ai_panel.show_result(result, ExportSource(result, volume, None, "AI"))


def chart_view(panel):
    """The calcium plugin's result widget in the panel (its manifest's [host] result_widget)."""
    view = panel.result_view(PLUGIN)
    assert view is not None and view.widget.objectName() == "ai_calcium_chart"
    return view


def bars(panel) -> dict[str, float]:
    canvas = chart_view(panel).widget.canvas
    canvas.draw()
    axes = canvas.figure.axes[0]
    names = [label.get_text() for label in axes.get_xticklabels()]
    return dict(zip(names, (bar.get_height() for bar in axes.patches), strict=True))


def test_calcium_result_shows_agatston_bars_and_risk_category(window, calcium, qtbot) -> None:
    result, volume = calcium
    window.docks["ai"].raise_()
    panel = window.ai_panel
    panel.plugins.setCurrentIndex(panel.plugins.findData(PLUGIN))
    show(window, result, volume)
    assert chart_view(panel).box.isVisibleTo(panel)
    assert panel.warnings.text() == "\n".join(f"\u26a0 WARNING: {text}" for text in result.warnings)
    agatston = {m.region: m.value for m in result.measurements if m.name == "Agatston score"}
    expected = {name: agatston[name if name != "Total" else "total"] for name in BARS}
    assert bars(panel) == pytest.approx(expected)
    assert sum(value > 0 for name, value in expected.items() if name != "Total") >= 2  # a real per-artery chart
    risk = chart_view(panel).widget.risk.text()
    category = next(m.name for m in result.measurements if m.name.startswith("Risk category"))
    assert html.escape(category, quote=False) in risk  # the label is rich text: "> 400" shows as "&gt; 400"
    assert f"Total Agatston {agatston['total']:.1f}" in risk and "CAC-DRS" in risk
    box = chart_view(panel).box
    qtbot.waitUntil(lambda: box.height() >= box.minimumSizeHint().height())  # the panel laid out again
    save_artifact(panel, "ai_calcium_chart.png")


def test_other_results_hide_the_chart_and_warnings_show_as_a_line(window, calcium) -> None:
    result, volume = calcium
    panel = window.ai_panel
    show(window, result, volume)
    show(window, result, volume)  # a second result replaces the canvas
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

    assert len(chart_view(panel).widget.findChildren(FigureCanvasQTAgg)) == 1
    other = AnalysisResult(measurements=[Measurement("lesion volume", 8.0, "mm3")],
                           warnings=["FLAIR has another voxel grid than T1c: resampled"])
    show(window, other, cube_volume())
    assert not chart_view(panel).box.isVisibleTo(panel)
    assert panel.warnings.isVisibleTo(panel)
    assert panel.warnings.text() == "\u26a0 WARNING: FLAIR has another voxel grid than T1c: resampled"
    show(window, result, volume)
    assert chart_view(panel).box.isVisibleTo(panel)
    assert panel.warnings.text() == "\n".join(f"\u26a0 WARNING: {text}" for text in result.warnings)


def test_the_app_starts_without_matplotlib() -> None:
    code = ("import sys; import app.widgets.main_window, app.widgets.ai_panel; "
            "sys.exit(any(name.split('.')[0] == 'matplotlib' for name in sys.modules))")
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, timeout=120).returncode == 0
