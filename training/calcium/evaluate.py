"""Held-out evaluation: per-lesion artery accuracy, per-artery Agatston agreement (ICC(2,1), Bland-Altman),
risk-category agreement (Cohen's kappa) for the model and the threshold-only baseline, calibration (ECE),
all with case-level bootstrap 95% CIs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from engine.ai.calibration import expected_calibration_error, probabilities
from plugins.coronary_calcium_ct.risk import CATEGORY_KEYS, risk_category
from plugins.coronary_calcium_ct.rules import ARTERIES
from training.calcium.quantize import session
from training.calcium.records import CLASSES, CaseRecord
from training.calcium.stats import bland_altman, bootstrap_ci, cohen_kappa, icc_2_1
from training.calcium.train import stack

REGIONS = (*ARTERIES.values(), "total")


def case_logits(model_path: str | os.PathLike, records: list[CaseRecord]) -> list[np.ndarray]:
    """Logits (n_candidates, 5) of every case, from the ONNX model."""
    runner = session(model_path)
    out = []
    for record in records:
        if len(record.target) == 0:
            out.append(np.zeros((0, len(CLASSES)), dtype=np.float32))
            continue
        data = stack([record])
        out.append(runner.run(["logits"], {"local": data.local, "context": data.context,
                                           "scalars": data.scalars})[0])
    return out


def predicted_agatston(record: CaseRecord, classes: np.ndarray) -> np.ndarray:
    """(5,) Agatston per artery (LM, LAD, LCX, RCA) and total from the candidates' predicted classes."""
    per_artery = np.array([record.cand_scores[classes == value, 0].sum() for value in ARTERIES])
    return np.append(per_artery, per_artery.sum())


def category_index(total: float) -> int:
    return CATEGORY_KEYS.index(risk_category(max(float(total), 0.0)).key)


@dataclass
class SystemScores:
    """One system's per-case totals and its metrics with CIs."""

    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)


def _with_ci(system: SystemScores, key: str, statistic, n: int, rounds: int) -> None:
    system.metrics[key] = statistic(np.arange(n))
    system.ci[key] = bootstrap_ci(statistic, n, rounds)


def evaluate_model(name: str, records: list[CaseRecord], logits: list[np.ndarray], temperature: float,
                   rounds: int = 1000) -> tuple[SystemScores, dict[str, np.ndarray]]:
    """Metrics of the classifier on ``records`` and the per-case arrays (truth, predicted, categories)."""
    classes = [lg.argmax(axis=1) if len(lg) else np.zeros(0, dtype=int) for lg in logits]
    truth = np.array([np.append(r.truth_scores[:, 0], r.truth_scores[:, 0].sum()) for r in records])
    predicted = np.array([predicted_agatston(r, c) for r, c in zip(records, classes, strict=True)])
    lesion_ok = [np.array([m >= 0 and c[m] == a for a, m in zip(r.plaque_artery, r.plaque_candidate, strict=True)],
                          dtype=bool) for r, c in zip(records, classes, strict=True)]
    candidate_ok = [c == r.target for r, c in zip(records, classes, strict=True)]
    false_positive = np.array([np.sum((r.target == 0) & (c > 0)) for r, c in zip(records, classes, strict=True)])
    cats_truth = np.array([category_index(t) for t in truth[:, -1]])
    cats_pred = np.array([category_index(t) for t in predicted[:, -1]])
    n = len(records)
    system = SystemScores(name)
    _with_ci(system, "lesion_accuracy", lambda i: _pooled(lesion_ok, i), n, rounds)
    _with_ci(system, "candidate_accuracy", lambda i: _pooled(candidate_ok, i), n, rounds)
    _with_ci(system, "false_positive_lesions_per_case", lambda i: float(false_positive[i].mean()), n, rounds)
    _agreement(system, truth, predicted, cats_truth, cats_pred, rounds)
    all_logits = np.concatenate([lg for lg in logits if len(lg)])
    all_targets = np.concatenate([r.target for r in records])
    system.metrics["ece_before"] = expected_calibration_error(probabilities(all_logits), all_targets)
    system.metrics["ece_after"] = expected_calibration_error(probabilities(all_logits, temperature), all_targets)
    system.metrics["reference_lesions"] = float(sum(len(x) for x in lesion_ok))
    system.metrics["reference_lesions_without_candidate"] = float(sum(np.sum(r.plaque_candidate < 0)
                                                                      for r in records))
    system.metrics["candidates"] = float(all_targets.size)
    confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)
    np.add.at(confusion, (all_targets, np.concatenate(classes)), 1)
    arrays = {"truth": truth, "predicted": predicted, "cats_truth": cats_truth, "cats_pred": cats_pred,
              "confusion": confusion}
    return system, arrays


def evaluate_baseline(name: str, truth_totals: np.ndarray, baseline_totals: np.ndarray, rounds: int = 1000
                      ) -> SystemScores:
    """Total-score agreement and risk categories of the threshold-only baseline (no per-artery scores)."""
    system = SystemScores(name)
    truth = truth_totals[:, None]
    predicted = baseline_totals[:, None]
    cats_truth = np.array([category_index(t) for t in truth_totals])
    cats_pred = np.array([category_index(t) for t in baseline_totals])
    _agreement(system, truth, predicted, cats_truth, cats_pred, rounds, regions=("total",))
    return system


def _agreement(system: SystemScores, truth: np.ndarray, predicted: np.ndarray, cats_truth: np.ndarray,
               cats_pred: np.ndarray, rounds: int, regions: tuple[str, ...] = REGIONS) -> None:
    n = len(truth)
    k = len(CATEGORY_KEYS)
    for column, region in enumerate(regions):
        t, p = truth[:, column], predicted[:, column]
        _with_ci(system, f"icc_{region}", lambda i, t=t, p=p: icc_2_1(p[i], t[i]), n, rounds)
        _with_ci(system, f"ba_mean_{region}", lambda i, t=t, p=p: float(np.mean(p[i] - t[i])), n, rounds)
        limits = bland_altman(p, t)
        system.metrics[f"ba_loa_low_{region}"] = limits["loa_low"]
        system.metrics[f"ba_loa_high_{region}"] = limits["loa_high"]
    _with_ci(system, "kappa", lambda i: cohen_kappa(cats_pred[i], cats_truth[i], k), n, rounds)
    _with_ci(system, "kappa_linear", lambda i: cohen_kappa(cats_pred[i], cats_truth[i], k, "linear"), n, rounds)
    _with_ci(system, "category_accuracy", lambda i: float(np.mean(cats_pred[i] == cats_truth[i])), n, rounds)


def _pooled(per_case: list[np.ndarray], index: np.ndarray) -> float:
    values = np.concatenate([per_case[i] for i in index]) if len(index) else np.zeros(0)
    return float(values.mean()) if values.size else float("nan")
