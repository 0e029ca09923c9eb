"""The chest X-ray plugin's shipped domain check (issue 14): the reference file and threshold agree with
the manifest and metrics.json, a real public chest radiograph runs but lies outside the domain (no "high" or
"medium" finding, no size), real images of other kinds are refused with the reason, and the phantom sample
radiograph lies inside the domain. Nothing here is skipped: a missing or altered shipped file fails."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from engine.ai.domain import load_reference
from engine.ai.hashing import sha256_file
from training.cxr.model_card import FIRST_LINE

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "chest_xray_nodules"


def _manifest() -> dict:
    return tomllib.loads((PLUGIN / "manifest.toml").read_text())


def _metrics() -> dict:
    return json.loads((PLUGIN / "metrics.json").read_text())


def _public(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not installed (dev extra)"
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    assert path.is_file(), path
    return path


def test_shipped_domain_reference_matches_manifest_and_metrics() -> None:
    domain = _manifest()["domain"]
    facts = _metrics()["domain"]
    reference = PLUGIN / domain["reference"]
    assert sha256_file(reference) == domain["sha256"] == facts["reference"]["sha256"]
    assert domain["threshold"] == facts["threshold"] and domain["k"] == facts["k"] == 5
    features = load_reference(reference, domain["sha256"])  # the runtime's own check of the file
    assert features.shape == (facts["reference"]["images"], 96)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    assert facts["validation"]["retained"] >= domain["retention"] == 0.95


def test_threshold_is_set_on_the_validation_split_and_the_domain_validation_range() -> None:
    from training.cxr.domain import DOMAIN_VAL
    from training.cxr.phantom_dataset import SPLITS

    validation = _metrics()["domain"]["validation"]
    splits = {s["name"]: s for s in validation["splits"]}
    assert splits["val"]["images"] == SPLITS["val"].count and splits["val"]["first_seed"] == SPLITS["val"].first_seed
    assert splits["domain_val"]["images"] == DOMAIN_VAL.count
    assert splits["domain_val"]["first_seed"] == DOMAIN_VAL.first_seed
    assert validation["images"] == SPLITS["val"].count + DOMAIN_VAL.count == 1000
    used = [range(s.first_seed, s.first_seed + s.count) for s in SPLITS.values()]
    assert not any(set(DOMAIN_VAL.seeds) & set(seeds) for seeds in used)


def test_model_card_reports_the_domain_check_from_metrics() -> None:
    card = (PLUGIN / "MODEL_CARD.md").read_text()
    facts = _metrics()["domain"]
    assert card.splitlines()[0] == FIRST_LINE
    assert "## Domain check" in card and "## Shifted sets" in card
    assert f"{facts['threshold']:.6f}" in card
    for name in facts["shifted"]:
        assert f"`{name}`" in card


def _analyze(study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, Path]:
    from app.cli import main

    out = tmp_path / "out"
    code = main(["analyze", str(study), "--plugin", "chest_xray_nodules", "--out", str(out),
                 "--audit-log", str(tmp_path / "audit.jsonl")])
    return code, capsys.readouterr().err, out / study.name


def test_real_chest_radiograph_runs_outside_the_domain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err, folder = _analyze(_public("data_store", "data/RG1_UNCI.dcm"), tmp_path, capsys)
    assert code == 0, err
    document = json.loads((folder / "result.json").read_text())
    domain = document["domain"]
    assert domain["threshold"] == _manifest()["domain"]["threshold"]
    assert domain["score"] is not None and domain["score"] > domain["threshold"] and domain["in_domain"] is False
    assert any("outside the model's validated domain" in warning for warning in document["warnings"])
    assert all(finding["tier"] == "needs_review" for finding in document["findings"])
    assert all(finding.get("size_mm") is None for finding in document["findings"])  # no pixel spacing


@pytest.mark.parametrize(("package", "relative", "reason"), [
    ("data_store", "data/RG3_UNCI.dcm", "EXTREMITY"),
    ("deid_data", "data/animals/cat.dcm", "veterinary"),
])
def test_real_non_chest_radiographs_are_refused_with_the_reason(
        package: str, relative: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err, folder = _analyze(_public(package, relative), tmp_path, capsys)
    assert code != 0
    assert "refuses the study" in err and reason in err
    assert not (folder / "result.json").exists()


def test_phantom_sample_radiograph_lies_inside_the_domain(tmp_path: Path) -> None:
    from engine.ai.registry import discover
    from engine.ai.runner import run_plugin
    from training.phantoms.chest_xray import make_chest_xray
    from training.phantoms.samples import CHEST_XRAY_SEED

    case = make_chest_xray(CHEST_XRAY_SEED, nodules=3)  # as `sightline samples` renders it
    result = run_plugin("chest_xray_nodules", {"radiograph": case.volume()},
                        registry=discover([REPO / "plugins"], entry_points=False), audit_log=tmp_path / "audit.jsonl")
    assert result.domain is not None and result.domain.score is not None
    assert result.domain.score <= result.domain.threshold, result.domain
    assert result.domain.in_domain and not any("domain" in warning for warning in result.warnings)
