"""Fit a plugin's domain check (engine.ai.domain) and write it into the plugin: ``domain.npz`` + ``[domain]``.

The reference is the training split's features; the threshold is the score that keeps ``retention`` (95%)
of the validation split in the domain. Nothing here looks at the test split: test, shifted and real-image
scores are measured afterwards with :func:`domain_auroc` for the model card.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.ai.domain import DEFAULT_RETENTION, knn_distances, save_reference, threshold_at_retention
from engine.atomic import atomic_write_bytes

REFERENCE_NAME = "domain.npz"
# the [domain] table, the comment lines written above it, and its keys up to the next table or the end
# the [domain] table (a table header starts its line) with the comment lines this module writes above it
_DOMAIN_TABLE = re.compile(r"\n*(?:# Domain check:[^\n]*\n(?:#[^\n]*\n)*)?(?<![^\n])\[domain\]\n(?:(?!\[)[^\n]*\n?)*")


@dataclass(frozen=True)
class DomainFit:
    """The fitted domain check: threshold, k, the reference's size and SHA-256, validation retention."""

    threshold: float
    k: int
    reference_cases: int
    sha256: str
    validation_retained: float
    features: str


def fit_domain(plugin: str | os.PathLike, reference: np.ndarray, validation: np.ndarray, k: int = 5,
               retention: float = DEFAULT_RETENTION, features: str = "embedding") -> DomainFit:
    """Write ``domain.npz`` from the training features, set the threshold on validation and write the
    manifest's ``[domain]`` table; returns the fit."""
    folder = Path(plugin)
    sha256 = save_reference(folder / REFERENCE_NAME, reference)
    scores = knn_distances(validation, reference, k)
    threshold = threshold_at_retention(scores, retention)
    fit = DomainFit(threshold=threshold, k=k, reference_cases=len(reference), sha256=sha256,
                    validation_retained=float(np.mean(scores <= threshold)), features=features)
    write_domain_table(folder / "manifest.toml", fit, retention)
    return fit


def write_domain_table(manifest: Path, fit: DomainFit, retention: float = DEFAULT_RETENTION) -> None:
    """Replace (or append) the manifest's ``[domain]`` table, keeping every other line as it is."""
    text = _DOMAIN_TABLE.sub("\n", manifest.read_text(encoding="utf-8")).rstrip("\n") + "\n"
    text += (f'\n# Domain check: k-NN cosine distance of the {fit.features} to {fit.reference_cases} training cases;\n'
             f"# threshold keeps {fit.validation_retained:.3f} of the validation split (fitted by training/).\n"
             f'[domain]\nreference = "{REFERENCE_NAME}"\nsha256 = "{fit.sha256}"\nthreshold = {fit.threshold:.6f}\n'
             f'k = {fit.k}\nfeatures = "{fit.features}"\nretention = {retention}\n')
    atomic_write_bytes(manifest, text.encode())


def record_domain_metrics(plugin: str | os.PathLike, facts: dict) -> dict:
    """The plugin's metrics.json with ``"domain"`` set to ``facts`` (``record_metrics``)."""
    return record_metrics(plugin, "domain", facts)


def record_metrics(plugin: str | os.PathLike, key: str, value: object) -> dict:
    """The plugin's metrics.json with ``key`` set to ``value`` (every other key kept), written atomically;
    returns the whole metrics (for the model card)."""
    path = Path(plugin) / "metrics.json"
    metrics = json.loads(path.read_text(encoding="utf-8"))
    metrics[key] = value
    atomic_write_bytes(path, json.dumps(metrics, indent=2, default=float).encode())
    return metrics


def domain_auroc(in_distribution: np.ndarray, outside: np.ndarray) -> float:
    """AUROC of the domain score separating ``outside`` (positive) from ``in_distribution`` (ties count half)."""
    inside, out = np.asarray(in_distribution, float), np.asarray(outside, float)
    if inside.size == 0 or out.size == 0:
        raise ValueError("both score sets must be non-empty")
    greater = (out[:, None] > inside[None, :]).sum()
    ties = (out[:, None] == inside[None, :]).sum()
    return float((greater + 0.5 * ties) / (inside.size * out.size))
