"""Model-card figures: FROC curves and calibration reliability diagrams (matplotlib, Agg backend)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.cxr.metrics import FROC_POINTS  # noqa: E402


def froc_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike, title: str) -> None:
    """Sensitivity against false positives per image (log axis), one line per system."""
    figure, axis = plt.subplots(figsize=(5.5, 4), dpi=110)
    for name, (fp_rate, sensitivity) in curves.items():
        axis.step(np.concatenate([[1e-3], fp_rate]), np.concatenate([[0.0], sensitivity]), where="post", label=name)
    axis.set_xscale("log")
    axis.set_xlim(FROC_POINTS[0] / 2, FROC_POINTS[-1] * 1.5)
    axis.set_ylim(0, 1.01)
    axis.set_xticks(FROC_POINTS, [f"{p:g}" for p in FROC_POINTS])
    axis.set_xlabel("false positives per image")
    axis.set_ylabel("sensitivity")
    axis.set_title(title, fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def reliability_plot(series: dict[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike, title: str,
                     n_bins: int = 15) -> None:
    """Observed frequency against predicted probability (equal-width bins), one line per series."""
    figure, axis = plt.subplots(figsize=(4.5, 4.2), dpi=110)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    edges = np.linspace(0, 1, n_bins + 1)
    for name, (probs, labels) in series.items():
        bins = np.clip(np.digitize(probs, edges[1:-1]), 0, n_bins - 1)
        used = [b for b in range(n_bins) if np.any(bins == b)]
        axis.plot([probs[bins == b].mean() for b in used], [labels[bins == b].mean() for b in used], marker="o",
                  label=name)
    axis.set_xlabel("predicted probability")
    axis.set_ylabel("observed frequency")
    axis.set_title(title, fontsize=9)
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
