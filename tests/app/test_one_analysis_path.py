"""One analysis path: `sightline analyze` and the AI panel's path (catalog candidates, the panel's role
match, the worker's engine.analysis call) give the same result.json for the same study, and pick the same
series, sequence tags and dimensions included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.viewer_model.ai_inputs import chosen_series, match_inputs, study_candidates
from engine.ai.runner import default_registry
from engine.analysis.service import analyze_series, write_outputs
from engine.catalog import Catalog
from engine.dicom.loader import load_series
from engine.dicom.scanner import scan

TIMING = ("started_utc", "duration_s")


def comparable(result_json: Path) -> dict:
    """The result document without the run's clock times (each run has its own)."""
    document = json.loads(result_json.read_text())
    for key in TIMING:
        document["provenance"].pop(key)
    return document


def panel_path(study: Path, plugin_id: str, out: Path, catalog: Catalog) -> Path:
    """What the AI panel does: catalogue the study, show its first series, auto-match, run, export."""
    report = scan(study)
    catalog.import_scan(report)
    shown = load_series(catalog.series_info(catalog.series(report.series[0].study_uid)[0].key))
    manifest = default_registry().get(plugin_id).manifest
    candidates = study_candidates(catalog, shown)
    match = match_inputs(manifest, candidates, {})
    assert match.complete, match.missing
    by_id = {candidate.id: candidate for candidate in candidates}
    series, loaded = chosen_series(catalog, {role: by_id[uid] for role, uid in match.assignment.items()}, shown)
    analysis = analyze_series(plugin_id, series, loaded, audit_log=out / "audit.jsonl")
    write_outputs(analysis, out, out / "audit.jsonl")
    return out / "result.json"


@pytest.mark.parametrize(("sample", "plugin_id"), [("chest_xray", "chest_xray_nodules"),
                                                   ("brain_mri", "brain_tumor_mri")])
def test_cli_and_panel_write_the_same_result(samples: Path, tmp_path: Path, sample: str, plugin_id: str) -> None:
    study = samples / sample
    assert main(["analyze", str(study), "--plugin", plugin_id, "--out", str(tmp_path / "cli"),
                 "--audit-log", str(tmp_path / "cli.jsonl")]) == 0
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        from_panel = panel_path(study, plugin_id, tmp_path / "panel", catalog)
    finally:
        catalog.close()
    from_cli = tmp_path / "cli" / sample / "result.json"
    assert comparable(from_cli) == comparable(from_panel)
    assert (tmp_path / "cli" / sample / "report.pdf").stat().st_size > 0
    assert (tmp_path / "panel" / "report.pdf").stat().st_size > 0
