"""The synthesis plugin's prompt domain check, through the shipped models: a prostate report is read with
normal confidence, anything else warns and shows the class as low confidence, everywhere it is shown."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom

from engine.ai import audit
from engine.ai.hashing import sha256_file
from plugins.prostate_synthesis.export import write_synthetic_dicom, write_synthetic_nifti
from plugins.prostate_synthesis.form import describe_result
from plugins.prostate_synthesis.runner import synthesize
from plugins.prostate_synthesis.types import SynthesisRequest
from tests.synthesis.conftest import PLUGIN_FOLDER, PLUGIN_ID
from tests.synthesis.test_synthesis_plugin import NEGATIVE, POSITIVE_LEFT
from training.ccella.prompt_shift import OTHER_REPORTS, paraphrased_report

CHEST_CT = OTHER_REPORTS[0]


def _run(registry, sessions, audit_log, prompt):
    return synthesize(SynthesisRequest(prompt, seed=0, steps=2, guidance=1.0), registry=registry,
                      sessions=sessions, audit_log=audit_log)


def test_shipped_domain_data_match_the_manifest_and_the_card() -> None:
    manifest = (PLUGIN_FOLDER / PLUGIN_ID / "manifest.toml").read_text()
    metrics = json.loads((PLUGIN_FOLDER / PLUGIN_ID / "prompt_domain.json").read_text())
    assert f'sha256 = "{sha256_file(PLUGIN_FOLDER / PLUGIN_ID / "domain.npz")}"' in manifest
    assert f"threshold = {metrics['threshold']:.6f}" in manifest
    assert metrics["flagged"]["test"] <= 0.05  # in-distribution prompts are seldom flagged
    assert "## Prompt domain check" in (PLUGIN_FOLDER / PLUGIN_ID / "MODEL_CARD.md").read_text()


def test_training_like_reports_are_in_the_domain(registry, sessions, audit_log) -> None:
    for prompt in (POSITIVE_LEFT, NEGATIVE):
        result = _run(registry, sessions, audit_log, prompt)
        assert result.domain.in_domain and result.class_confidence == "normal" and result.warnings == []
        assert "LOW CONFIDENCE" not in describe_result(result)


def test_other_texts_warn_and_read_low_confidence(registry, sessions, audit_log, tmp_path: Path) -> None:
    for prompt in (CHEST_CT, "The quick brown fox jumps over the lazy dog.", paraphrased_report(1)):
        result = _run(registry, sessions, audit_log, prompt)
        assert not result.domain.in_domain and result.class_confidence == "low"
        assert result.warnings[0].startswith("the prompt is not like the prostate MRI reports")
    summary = describe_result(result)
    assert "LOW CONFIDENCE" in summary and "\u26a0 the prompt is not like" in summary
    entry = audit.read_entries(audit_log)[-1]["details"]
    assert entry["prompt_in_domain"] is False and entry["prompt_domain_score"] > result.domain.threshold
    _, sidecar = write_synthetic_nifti(result, tmp_path / "synthetic.nii.gz")
    facts = json.loads(sidecar.read_text())
    assert facts["class_confidence"] == "low" and facts["prompt_domain_score"] > facts["prompt_domain_threshold"]
    first = write_synthetic_dicom(result, tmp_path / "dicom")[0]
    comments = pydicom.dcmread(first).ImageComments
    assert "low confidence" in comments and "WARNING: the prompt is not like" in comments
