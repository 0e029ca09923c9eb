"""Held-out evaluation of the detector (FP32 and INT8 ONNX) against the LoG baseline, with bootstrap CIs.

Temperatures (image logit and detection logit) are fitted on the validation split; every number is
measured on the test split, whose seeds training never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort
from scipy.special import expit

from engine.ai.calibration import expected_calibration_error, fit_temperature
from engine.ai.sessions import cpu_session
from training.cxr.baseline import log_blobs
from training.cxr.metrics import auc, bootstrap, detection_metrics, froc_curve, match
from training.cxr.phantom_dataset import PhantomSet
from training.cxr.predict import Predictions, onnx_forward, predict


@dataclass
class SystemScores:
    """One system on the test split: point estimates, 95% CIs and its FROC curve."""

    name: str
    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]]
    froc: tuple[np.ndarray, np.ndarray]
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Temperatures:
    """Image-level and detection-level temperatures (fitted on validation) and the reporting threshold."""

    image: float
    detection: float
    report_logit: float  # detection logit at 0.5 FP/image on validation

    @property
    def report_probability(self) -> float:
        return float(expit(self.report_logit / self.detection))


def session(path: str) -> ort.InferenceSession:
    """A CPU session with the app's options and 2 intra-op threads."""
    return cpu_session(path, 2)


def run_model(model_path: str, split: PhantomSet) -> Predictions:
    """ONNX predictions for every case of ``split``."""
    return predict(onnx_forward(session(model_path)), split.images)


def fit_temperatures(val: PhantomSet, predictions: Predictions) -> Temperatures:
    """Fit both temperatures on validation and pick the 0.5 FP/image detection logit."""
    image = fit_temperature(predictions.image_logits, val.positive)
    matched = _match(predictions, val)
    keep = ~matched.det_ignored
    detection = fit_temperature(matched.det_score[keep], matched.det_tp[keep])
    fp_rate, _ = froc_curve(matched.det_score, matched.det_tp, matched.det_ignored, 1, len(val))
    ordered = np.sort(matched.det_score[keep])[::-1]
    allowed = np.nonzero(fp_rate <= 0.5)[0]
    report_logit = float(ordered[allowed[-1]]) if len(allowed) else float(ordered[0])
    return Temperatures(image=image, detection=detection, report_logit=report_logit)


def score_model(name: str, predictions: Predictions, test: PhantomSet, temperatures: Temperatures,
                n_boot: int) -> SystemScores:
    """Detection, image-level and calibration metrics of the model on ``test``."""
    matched = _match(predictions, test)
    labels = test.positive
    logits = predictions.image_logits
    keep = ~matched.det_ignored
    det_logit, det_label, det_case = matched.det_score[keep], matched.det_tp[keep], matched.det_case[keep]
    case_rows = [np.nonzero(det_case == c)[0] for c in range(len(test))]

    def statistic(cases: np.ndarray) -> dict[str, float]:
        values = detection_metrics(matched, cases)
        values["auc"] = auc(logits[cases], labels[cases])
        values["node21"] = 0.75 * values["auc"] + 0.25 * values["sens@0.25"]
        values["ece_image_before"] = expected_calibration_error(expit(logits[cases]), labels[cases])
        values["ece_image_after"] = expected_calibration_error(expit(logits[cases] / temperatures.image),
                                                               labels[cases])
        rows = np.concatenate([case_rows[c] for c in cases])
        values["ece_detection_before"] = expected_calibration_error(expit(det_logit[rows]), det_label[rows])
        values["ece_detection_after"] = expected_calibration_error(
            expit(det_logit[rows] / temperatures.detection), det_label[rows])
        return values

    froc = froc_curve(matched.det_score, matched.det_tp, matched.det_ignored, len(matched.nod_case), len(test))
    return SystemScores(name, statistic(np.arange(len(test))), bootstrap(statistic, len(test), n_boot), froc)


def score_baseline(test: PhantomSet, n_boot: int, params: dict | None = None) -> SystemScores:
    """The LoG blob detector (``params``: keyword arguments of ``log_blobs``, tuned on validation) on the same
    test images (inside the ground-truth lung masks)."""
    detections = [log_blobs(test.images[i], test.lungs[i], float(test.spacing_mm[i]), **(params or {}))
                  for i in range(len(test))]
    image_scores = np.array([d[:, 3].max() if len(d) else 0.0 for d in detections])
    truths = [test.case_nodules(i) for i in range(len(test))]
    matched = match([d[:, [0, 1, 3]] for d in detections], truths, test.spacing_mm)
    labels = test.positive

    def statistic(cases: np.ndarray) -> dict[str, float]:
        values = detection_metrics(matched, cases)
        values["auc"] = auc(image_scores[cases], labels[cases])
        values["node21"] = 0.75 * values["auc"] + 0.25 * values["sens@0.25"]
        return values

    froc = froc_curve(matched.det_score, matched.det_tp, matched.det_ignored, len(matched.nod_case), len(test))
    return SystemScores("LoG baseline", statistic(np.arange(len(test))), bootstrap(statistic, len(test), n_boot),
                        froc)


def reliability_data(predictions: Predictions, split: PhantomSet, temperatures: Temperatures
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(probabilities, labels) for the image head before/after scaling and the detections after scaling."""
    matched = _match(predictions, split)
    keep = ~matched.det_ignored
    labels = split.positive.astype(float)
    return {
        "image, T=1": (expit(predictions.image_logits), labels),
        f"image, T={temperatures.image:.2f}": (expit(predictions.image_logits / temperatures.image), labels),
        f"detections, T={temperatures.detection:.2f}": (
            expit(matched.det_score[keep] / temperatures.detection), matched.det_tp[keep].astype(float)),
    }


def _match(predictions: Predictions, split: PhantomSet):
    truths = [split.case_nodules(i) for i in range(len(split))]
    return match([d[:, [0, 1, 3]] for d in predictions.detections], truths, split.spacing_mm)
