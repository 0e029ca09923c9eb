"""training.domain_fit: the domain check is fitted on validation and written into a plugin, idempotently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.ai.manifest import parse_manifest
from tests.ai.conftest import plugin_manifest
from training.domain_fit import domain_auroc, fit_domain, record_domain_metrics


def test_fit_writes_one_domain_table_and_keeps_the_rest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(plugin_manifest("fit_test", "a" * 64) + '\n[retrieval]\nlibrary = "l.npz"\n')
    rng = np.random.default_rng(0)
    reference, validation = rng.normal(size=(50, 8)) + 3, rng.normal(size=(40, 8)) + 3
    first = fit_domain(tmp_path, reference, validation, k=3)
    text = manifest.read_text()
    second = fit_domain(tmp_path, reference, validation, k=3)
    assert manifest.read_text() == text and first == second
    assert text.count("[domain]") == 1 and text.count("# Domain check") == 1 and "[retrieval]" in text
    parsed = parse_manifest(text, manifest)
    assert parsed.domain.threshold == pytest.approx(first.threshold, abs=1e-6) and parsed.domain.k == 3
    assert first.validation_retained >= 0.95


def test_auroc_counts_ties_half() -> None:
    assert domain_auroc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert domain_auroc(np.array([0.3, 0.4]), np.array([0.1, 0.2])) == 0.0
    assert domain_auroc(np.array([0.2]), np.array([0.2])) == 0.5


def test_domain_metrics_are_recorded_beside_the_others(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text('{"version": "0.1.0", "domain": {"threshold": 1.0}}')
    metrics = record_domain_metrics(tmp_path, {"threshold": 0.25})
    assert metrics == {"version": "0.1.0", "domain": {"threshold": 0.25}}
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
