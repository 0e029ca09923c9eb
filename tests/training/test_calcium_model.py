"""LesionNet on tiny phantom records: a short training run, ONNX export parity, INT8 QDQ, evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.calcium import evaluate as ev  # noqa: E402
from training.calcium.export import export_onnx, parity  # noqa: E402
from training.calcium.quantize import quantize  # noqa: E402
from training.calcium.records import case_record  # noqa: E402
from training.calcium.train import TrainConfig, load_model, predict_logits, stack, train  # noqa: E402
from training.phantoms.cardiac_ct import make_cardiac_ct  # noqa: E402


@pytest.fixture(scope="module")
def tiny_records():
    out = []
    for seed in (1, 5):
        case = make_cardiac_ct(seed, size=224, slices=20)
        out.append(case_record(f"p{seed}", case.hu, case.geometry, case.labels, case.heart_centre_lps))
    return out


def test_records_hold_candidates_targets_and_reference(tiny_records) -> None:
    record = tiny_records[0]
    n = len(record.target)
    assert n > 0 and record.local.shape == (n, 3, 32, 32) and record.context.shape == (n, 3, 64, 64)
    assert set(record.target.tolist()) <= {0, 1, 2, 3, 4} and (record.target > 0).any()
    # candidates assigned their reference artery reproduce the reference scores exactly
    oracle = ev.predicted_agatston(record, record.target)
    np.testing.assert_allclose(oracle[:4], record.truth_scores[:, 0], atol=1e-9)


def test_train_export_parity_quantize_evaluate(tiny_records, tmp_path: Path) -> None:
    data = stack(tiny_records)
    config = TrainConfig(out=str(tmp_path / "run"), epochs=2, patience=2, batch=16, width=8)
    checkpoint = train(config, data, data, log=lambda _: None)
    model = load_model(checkpoint)
    again = load_model(train(config, data, data, log=lambda _: None))
    np.testing.assert_array_equal(predict_logits(model, data), predict_logits(again, data))  # reproducible
    onnx_path = export_onnx(model, tmp_path / "model.onnx")
    differences = parity(model, onnx_path, data)
    assert max(differences.values()) < 1e-4
    int8 = quantize(onnx_path, tmp_path / "model_int8.onnx", data)
    logits = ev.case_logits(int8, tiny_records)
    assert [len(lg) for lg in logits] == [len(r.target) for r in tiny_records]
    system, arrays = ev.evaluate_model("m", tiny_records, ev.case_logits(onnx_path, tiny_records), 1.0, rounds=5)
    assert 0.0 <= system.metrics["lesion_accuracy"] <= 1.0
    assert arrays["truth"].shape == (2, 5) and arrays["confusion"].sum() == len(data)
