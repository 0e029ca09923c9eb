"""The shipped synthesis plugin through plugins.prostate_synthesis.runner (ONNX Runtime, no torch): manifest and
sizes, determinism, geometry, progress, cancellation, class override, audit log, and the acceptance case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.ai import audit
from engine.ai.registry import discover
from engine.ai.runner import PluginError
from engine.progress import Cancelled, CancelToken
from plugins.prostate_synthesis.lesion import darkest_pz_lesion
from plugins.prostate_synthesis.runner import synthesize
from plugins.prostate_synthesis.types import SynthesisRequest

POSITIVE_LEFT = ("Axial T2: markedly hypointense lesion of 18 mm centred in the left peripheral zone (mid gland). "
                 "Estimated prostate volume 40 mL. Conclusion: PI-RADS 5, suspicious for clinically significant "
                 "prostate cancer.")
POSITIVE_RIGHT = POSITIVE_LEFT.replace("left", "right")
NEGATIVE = ("FINDINGS: Prostate volume approximately 30 mL. Homogeneous high T2 signal of the peripheral zone. "
            "No focal suspicious lesion. IMPRESSION: PI-RADS 1.")


def _run(registry, sessions, audit_log, prompt=POSITIVE_LEFT, **options):
    return synthesize(SynthesisRequest(prompt, **options), registry=registry, sessions=sessions, audit_log=audit_log)


def test_manifest_models_and_size(registry) -> None:
    plugin = registry.get("prostate_synthesis")
    assert plugin.manifest.kind == "synthesis" and plugin.manifest.clinical_use is False
    assert {m.name for m in plugin.manifest.models} == {"text_encoder", "denoiser", "decoder"}
    assert all(status == "ok" for status, _ in plugin.hash_status().values())
    total = sum(plugin.model_path(m.name).stat().st_size for m in plugin.manifest.models)
    assert total < 40 * 2**20


def test_generation_is_deterministic_and_on_the_model_grid(registry, sessions, audit_log) -> None:
    seen = []
    first = _run(registry, sessions, audit_log, seed=7, steps=4)
    second = synthesize(SynthesisRequest(POSITIVE_LEFT, seed=7, steps=4), lambda d, t, m: seen.append((d, t)),
                        registry=registry, sessions=sessions, audit_log=audit_log)
    assert np.array_equal(first.volume.array, second.volume.array)
    assert first.volume.array.shape == (32, 64, 64) and first.volume.array.dtype == np.uint16
    assert first.volume.spacing == (2.0, 2.0, 2.25) and first.volume.modality == "MR"
    assert np.allclose(first.volume.voxel_to_patient(np.array([15.5, 31.5, 31.5])), 0.0)
    assert seen[0] == (0, 6) and seen[-1] == (6, 6) and len(seen) == 7
    assert sum(first.probabilities.values()) == pytest.approx(1.0)
    other = _run(registry, sessions, audit_log, seed=8, steps=4)
    assert not np.array_equal(first.volume.array, other.volume.array)


def test_every_generation_is_audited(registry, sessions, audit_log) -> None:
    result = _run(registry, sessions, audit_log, seed=1, steps=2)
    entries = audit.read_entries(audit_log)
    assert [e["event"] for e in entries] == ["ai_synthesis"]
    details = entries[0]["details"]
    assert details["status"] == "completed" and details["predicted_class"] == result.predicted_class
    assert details["steps"] == 2 and details["seed"] == 1 and "prompt" not in details
    assert set(details["models"]) == {"text_encoder", "denoiser", "decoder"}
    assert audit.verify(audit_log).ok


def test_cancel_stops_and_is_audited(registry, sessions, audit_log) -> None:
    token = CancelToken()

    def progress(done: int, total: int, message: str) -> None:
        if done == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        synthesize(SynthesisRequest(POSITIVE_LEFT, steps=20), progress, token, registry=registry,
                   sessions=sessions, audit_log=audit_log)
    assert audit.read_entries(audit_log)[-1]["details"]["status"] == "cancelled"


def test_class_override_is_labelled_and_changes_the_image(registry, sessions, audit_log) -> None:
    auto = _run(registry, sessions, audit_log, prompt=NEGATIVE, seed=3, steps=10)
    forced = _run(registry, sessions, audit_log, prompt=NEGATIVE, seed=3, steps=10, class_mode="positive")
    assert forced.class_used == "positive" and auto.class_used == auto.predicted_class
    assert forced.predicted_class == auto.predicted_class  # the prediction comes from the report alone
    assert not np.array_equal(auto.volume.array, forced.volume.array)


def test_guidance_changes_the_image_not_the_reading_of_the_report(registry, sessions, audit_log) -> None:
    """Guidance mixes in the missing-report prediction: the volume changes, the class and side read from the
    report (the connector's heads see the text and the timestep only) do not, and the audit log records w."""
    plain = _run(registry, sessions, audit_log, seed=4, steps=6, guidance=1.0)
    guided = _run(registry, sessions, audit_log, seed=4, steps=6, guidance=3.0)
    assert not np.array_equal(plain.volume.array, guided.volume.array)
    assert guided.probabilities == pytest.approx(plain.probabilities, abs=1e-6)
    assert guided.side_probabilities == pytest.approx(plain.side_probabilities, abs=1e-6)
    assert guided.level_probabilities == pytest.approx(plain.level_probabilities, abs=1e-6)
    assert [e["details"]["guidance"] for e in audit.read_entries(audit_log)[-2:]] == [1.0, 3.0]


def test_request_validation_and_wrong_kind(registry, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SynthesisRequest("x", class_mode="maybe")
    with pytest.raises(ValueError):
        SynthesisRequest("x", steps=0)
    for guidance in (-0.5, 10.5):
        with pytest.raises(ValueError, match="guidance"):
            SynthesisRequest("x", guidance=guidance)
    with pytest.raises(KeyError):
        synthesize(SynthesisRequest("x"), plugin_id="no_such_plugin", registry=registry)
    manifest = registry.get("prostate_synthesis").folder.joinpath("manifest.toml").read_text()
    (tmp_path / "detector").mkdir()
    (tmp_path / "detector" / "manifest.toml").write_text(
        manifest.replace('kind = "synthesis"', 'kind = "detection"').replace('id = "prostate_synthesis"', 'id = "det"'))
    other = discover([tmp_path], entry_points=False)
    with pytest.raises(PluginError, match="not a synthesis plugin"):
        synthesize(SynthesisRequest("x"), plugin_id="det", registry=other)


def test_predicted_class_and_lesion_side_follow_the_report(registry, sessions, audit_log) -> None:
    """The acceptance case, fixed seed, 50 steps: a PI-RADS 5 report is predicted positive, a PI-RADS 1 report
    negative; the lesion lies on the side the report names, and moves when only that word changes."""
    positive = _run(registry, sessions, audit_log, seed=0, steps=50)
    negative = _run(registry, sessions, audit_log, prompt=NEGATIVE, seed=0, steps=50)
    assert positive.predicted_class == "positive" and positive.probabilities["positive"] > 0.5
    assert negative.predicted_class == "negative" and negative.probabilities["negative"] > 0.5
    assert positive.predicted_side == "left" and negative.predicted_side == "none"
    assert positive.predicted_level == "mid" and negative.predicted_level == "none"
    assert darkest_pz_lesion(positive.volume).side == "left"
    right = _run(registry, sessions, audit_log, prompt=POSITIVE_RIGHT, seed=0, steps=50)
    assert right.predicted_side == "right" and darkest_pz_lesion(right.volume).side == "right"
    apex = _run(registry, sessions, audit_log, prompt=POSITIVE_LEFT.replace("(mid gland)", "(apex)"), seed=0, steps=2)
    assert apex.predicted_level == "apex" and apex.level_probabilities["apex"] > 0.5


def test_lesions_follow_the_named_side_and_class_over_seeds(registry, sessions, audit_log) -> None:
    """Over eight fixed seeds at the default guidance (measured: 8/8 on the named side for both prompts, mean
    PZ dip depth 0.92 left, 0.80 right, 0.28 for PI-RADS 1; without guidance 8/8 and 8/8, 0.68 / 0.59 / 0.33):
    the lesion lies on the named side, and positive reports draw deeper dips than a negative one."""
    calls = {prompt: [darkest_pz_lesion(_run(registry, sessions, audit_log, prompt=prompt, seed=seed,
                                             steps=50).volume) for seed in range(8)]
             for prompt in (POSITIVE_LEFT, POSITIVE_RIGHT, NEGATIVE)}
    assert sum(call.side == "left" for call in calls[POSITIVE_LEFT]) >= 7
    assert sum(call.side == "right" for call in calls[POSITIVE_RIGHT]) >= 7
    depth = {prompt: np.mean([call.depth for call in found]) for prompt, found in calls.items()}
    assert min(depth[POSITIVE_LEFT], depth[POSITIVE_RIGHT]) > depth[NEGATIVE] + 0.1


def test_lesions_move_towards_the_named_level(registry, sessions, audit_log) -> None:
    """Apex vs base in the same report, eight fixed seeds: the darkest PZ dip lies lower for the apex (measured
    mean slice 12.2 apex, 15.0 mid gland, 17.1 base; the named level itself in 6/8 apex, 0/8 base prompts, see
    the model card's level adherence)."""
    slices = {}
    for level in ("apex", "base"):
        prompt = POSITIVE_LEFT.replace("(mid gland)", f"({level})")
        slices[level] = np.mean([darkest_pz_lesion(_run(registry, sessions, audit_log, prompt=prompt, seed=seed,
                                                        steps=50).volume).voxel[0] for seed in range(8)])
    assert slices["apex"] + 2.0 < slices["base"]
