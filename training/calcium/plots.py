"""Bland-Altman plots (PNG) of Agatston scores: per artery for the model, total for model and baseline."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.calcium.stats import bland_altman  # noqa: E402


def bland_altman_plot(panels: dict[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike, title: str
                      ) -> Path:
    """One panel per entry ``name -> (test, reference)``: difference vs mean, bias and 95% limits."""
    figure, axes = plt.subplots(2, (len(panels) + 1) // 2, figsize=(4 * ((len(panels) + 1) // 2), 7.5))
    for axis, (name, (test, reference)) in zip(axes.ravel(), panels.items(), strict=False):
        mean, diff = (test + reference) / 2, test - reference
        limits = bland_altman(test, reference)
        axis.scatter(mean, diff, s=12, alpha=0.7)
        for key, style in (("mean_difference", "-"), ("loa_low", "--"), ("loa_high", "--")):
            axis.axhline(limits[key], color="crimson", linestyle=style, linewidth=1)
        axis.set_title(f"{name}: bias {limits['mean_difference']:.1f} "
                       f"[{limits['loa_low']:.1f}, {limits['loa_high']:.1f}]", fontsize=9)
        axis.set_xlabel("mean of system and reference (Agatston)", fontsize=8)
        axis.set_ylabel("system - reference", fontsize=8)
    for axis in axes.ravel()[len(panels):]:
        axis.set_axis_off()
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    target = Path(path)
    figure.savefig(target, dpi=90)
    plt.close(figure)
    return target
