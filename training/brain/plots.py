"""Model-card figures (PNG): Dice per case for model vs baseline, WT reliability, adaptation, an example."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from plugins.brain_tumor_mri.preprocessing import REGIONS  # noqa: E402


def dice_plot(systems: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """Per-case Dice (cases, 3) per system as strip + box plots, one group per region."""
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    width = 0.8 / len(systems)
    for s, (name, values) in enumerate(systems.items()):
        positions = np.arange(len(REGIONS)) + (s - (len(systems) - 1) / 2) * width
        axes.boxplot([values[:, r] for r in range(len(REGIONS))], positions=positions, widths=width * 0.8,
                     showfliers=False, patch_artist=True, boxprops={"facecolor": f"C{s}", "alpha": 0.35},
                     medianprops={"color": f"C{s}"})
        for r, position in enumerate(positions):
            jitter = np.random.default_rng(r).uniform(-width / 4, width / 4, len(values))
            axes.plot(position + jitter, values[:, r], ".", color=f"C{s}", markersize=3,
                      label=name if r == 0 else None)
    axes.set_xticks(range(len(REGIONS)), REGIONS)
    axes.set_ylabel("Dice")
    axes.set_ylim(0, 1.02)
    axes.set_title(title, fontsize=10)
    axes.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def reliability_plot(logits: np.ndarray, labels: np.ndarray, temperature: float, path: Path, title: str) -> Path:
    """Voxel reliability diagram of the WT probability before and after temperature scaling (15 bins)."""
    figure, axes = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    edges = np.linspace(0, 1, 16)
    for name, t in (("raw", 1.0), (f"T = {temperature:.2f}", temperature)):
        p = 1.0 / (1.0 + np.exp(-logits / t))
        bins = np.clip(np.digitize(p, edges) - 1, 0, 14)
        filled = [b for b in range(15) if np.any(bins == b)]
        axes.plot([p[bins == b].mean() for b in filled], [labels[bins == b].mean() for b in filled], "o-",
                  label=name, markersize=3)
    axes.plot([0, 1], [0, 1], "k:", linewidth=1)
    axes.set_xlabel("predicted WT probability")
    axes.set_ylabel("observed WT frequency")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def adaptation_plot(rows: list[dict], path: Path, title: str) -> Path:
    """Mean Dice per region for each adaptation method (grouped bars)."""
    figure, axes = plt.subplots(figsize=(7, 3.8), dpi=100)
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        positions = np.arange(len(REGIONS)) + (i - (len(rows) - 1) / 2) * width
        axes.bar(positions, [row["dice"][r] for r in REGIONS], width * 0.9, label=row["method"], color=f"C{i}")
    axes.set_xticks(range(len(REGIONS)), REGIONS)
    axes.set_ylabel("mean Dice (new-site test)")
    axes.set_ylim(0, 1)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def example_plot(t1c: np.ndarray, flair: np.ndarray, truth: np.ndarray, predicted: np.ndarray, path: Path,
                 title: str) -> Path:
    """The axial slice with the most tumour: T1c and FLAIR with truth (left) and model (right) contours."""
    z = int(np.argmax((truth > 0).sum(axis=(1, 2))))
    figure, axes = plt.subplots(1, 2, figsize=(7, 3.8), dpi=100)
    for ax, image, labels, name in ((axes[0], t1c, truth, "T1c + truth"), (axes[1], flair, predicted,
                                                                            "FLAIR + model")):
        ax.imshow(image[z], cmap="gray")
        for value, colour in ((2, "lime"), (1, "red"), (3, "yellow")):
            if np.any(labels[z] == value):
                ax.contour(labels[z] == value, levels=[0.5], colors=colour, linewidths=0.8)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
