"""Honest evaluation of the shipped chest X-ray plugin: the findings a reader sees, tier by tier.

    python -m training.cxr.honest --work build/cxr --plugin plugins/chest_xray_nodules

1. The SHIPPED ``model.onnx`` runs on the validation split, the test split, the unshifted control and every
   shifted set (``training.cxr.shifted``); each case's findings are decoded as ``logic.py`` decodes them
   (distinct peaks, probability ``sigmoid(logit / detection_temperature) >= report_probability``).
2. A finding is true when its centre lies within reach of a reference nodule (the FROC hit rule of
   ``training.cxr.metrics``). Per set: the observed precision of each tier (the manifest's thresholds, the
   runtime's rule) with bootstrap 95% CIs over images, the ECE of the reported findings, sensitivity and
   false positives per image at the reporting threshold, and the specificity on nodule-free images (no
   finding reported; and no "high" finding).
3. The LoG baseline is tuned on validation (scale range and peak spacing, by CPM) and scored on test with
   the tuned parameters; nothing is chosen on test.
4. ``metrics.json`` gets the numbers under ``"tiers"`` and ``"baseline_tuned"`` (every other key kept) and
   MODEL_CARD.md is regenerated from it (``training.cxr.model_card``).

``training.cxr.pipeline`` calls :func:`measure` after the domain fit (``make models``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import tomllib
from pathlib import Path

import numpy as np
from scipy.special import expit

from engine.ai.calibration import Calibration
from engine.ai.domain import Domain
from engine.ai.domain import score as score_domain
from engine.atomic import atomic_write_bytes
from training.cxr import evaluate as ev
from training.cxr.baseline import log_blobs
from training.cxr.metrics import MIN_RADIUS_MM, bootstrap, detection_metrics, match
from training.cxr.model_card import write_model_card
from training.cxr.phantom_dataset import SPLITS, PhantomSet, build_split
from training.cxr.predict import Predictions
from training.cxr.shifted import CONTROL, SHIFTS, build_shifted
from training.tiers import ReportedFindings, finite, specificity, tier_table

# LoG baseline grid (tuned on validation by CPM): nodule diameter range in mm and local-maximum window
BASELINE_GRID = tuple({"diameters_mm": d, "peak_window": w}
                      for d in ((4.0, 30.0), (4.0, 15.0), (8.0, 30.0)) for w in (3, 9))
TUNE_CASES = 120  # validation images the baseline grid is scored on


@dataclasses.dataclass
class Decoder:
    """The plugin's decoding settings (manifest [preprocessing]) and its tier thresholds."""

    temperature: float
    report_probability: float
    calibration: Calibration
    domain: Domain | None = None
    folder: Path = Path(".")

    @classmethod
    def of(cls, plugin: Path) -> Decoder:
        with open(plugin / "manifest.toml", "rb") as handle:
            manifest = tomllib.load(handle)
        settings, table = manifest["preprocessing"], manifest.get("calibration", {})
        return cls(float(settings["detection_temperature"]), float(settings["report_probability"]),
                   Calibration(float(table.get("temperature", 1.0)), float(table.get("high", 0.9)),
                               float(table.get("medium", 0.7))),
                   Domain(**manifest["domain"]) if "domain" in manifest else None, plugin)

    def outside(self, embeddings: np.ndarray) -> list[bool]:
        """Per image, whether the runtime's domain check (engine.ai.domain, the manifest's [domain]) puts it
        outside the validated domain, which caps all of its findings to "needs review"."""
        return [not score_domain(self.domain, self.folder, np.asarray(e, np.float32)).in_domain
                for e in embeddings]


def distinct(detections: np.ndarray) -> np.ndarray:
    """The rows (row, col, diameter_px, logit) the plugin keeps: strongest first, none whose centre lies
    inside a stronger kept peak's nodule (``logic.distinct_peaks``)."""
    kept: list[np.ndarray] = []
    for row in detections[np.argsort(-detections[:, 3], kind="stable")]:
        if all(np.hypot(row[0] - k[0], row[1] - k[1]) > k[2] / 2 for k in kept):
            kept.append(row)
    return np.asarray(kept, dtype=np.float64).reshape(-1, 4)


def reported(predictions: Predictions, split: PhantomSet, decoder: Decoder) -> tuple[ReportedFindings, dict]:
    """The reported findings of every case with their truth, and per-case counts (findings, high findings,
    reference nodules found)."""
    per_case, counts, high, found, nodules = [], [], [], [], []
    for case, detections in enumerate(predictions.detections):
        rows = distinct(np.asarray(detections, dtype=np.float64).reshape(-1, 4))
        probability = expit(rows[:, 3] / decoder.temperature)
        rows, probability = rows[probability >= decoder.report_probability], probability[
            probability >= decoder.report_probability]
        truth = split.case_nodules(case)
        reach = np.maximum(truth[:, 2] / 2, MIN_RADIUS_MM / split.spacing_mm[case])
        hit = np.array([[np.hypot(t[0] - r[0], t[1] - r[1]) <= d for t, d in zip(truth, reach, strict=True)]
                        for r in rows], dtype=bool).reshape(len(rows), len(truth))
        per_case.append([(float(p), bool(h.any())) for p, h in zip(probability, hit, strict=True)])
        counts.append(len(rows))
        high.append(int(sum(decoder.calibration.tier(float(p)) == "high" for p in probability)))
        found.append(int(hit.any(axis=0).sum()))
        nodules.append(len(truth))
    capped = decoder.outside(predictions.embeddings) if decoder.domain is not None else None
    return ReportedFindings.collect(per_case, capped), {
        "findings": np.array(counts), "high": np.array(high), "found": np.array(found), "nodules": np.array(nodules),
        "outside": np.array(capped if capped is not None else [False] * len(counts), dtype=bool)}


def set_facts(predictions: Predictions, split: PhantomSet, decoder: Decoder, n_boot: int) -> dict:
    """Tier table, operating sensitivity / FP per image and specificity on nodule-free images of one set."""
    shown, counts = reported(predictions, split, decoder)
    findings = dataclasses.replace(shown, capped=None)  # the model's own tiers
    false = np.bincount(findings.case[~findings.true], minlength=len(split))

    def statistic(cases: np.ndarray) -> dict[str, float]:
        return {"sensitivity": float(counts["found"][cases].sum() / max(counts["nodules"][cases].sum(), 1)),
                "fp_per_image": float(false[cases].mean())}

    negative = counts["nodules"] == 0
    return {
        "images": len(split), "nodules": int(counts["nodules"].sum()),
        "tiers": tier_table(findings, decoder.calibration, n_boot),
        **({} if shown.capped is None else {
            "tiers_as_shown": tier_table(shown, decoder.calibration, n_boot),
            "outside_domain": int(counts["outside"].sum())}),
        "operating_point": {**statistic(np.arange(len(split))), "ci95": bootstrap(statistic, len(split), n_boot)},
        "specificity": specificity(counts["findings"][negative]),
        "specificity_high": specificity(counts["high"][negative]),
    }


def tune_baseline(val: PhantomSet, cases: int = TUNE_CASES) -> dict:
    """The LoG grid point with the best CPM on the first ``cases`` validation images."""
    subset = min(cases, len(val))
    truths = [val.case_nodules(i) for i in range(subset)]
    scores = []
    for params in BASELINE_GRID:
        detections = [log_blobs(val.images[i], val.lungs[i], float(val.spacing_mm[i]), **params)
                      for i in range(subset)]
        matched = match([d[:, [0, 1, 3]] for d in detections], truths, val.spacing_mm[:subset])
        scores.append(detection_metrics(matched)["cpm"])
        print(f"[honest] LoG {params}: validation CPM {scores[-1]:.3f}", flush=True)
    best = int(np.argmax(scores))
    return {"params": BASELINE_GRID[best], "validation_cpm": scores[best], "validation_images": subset,
            "grid": [{"params": p, "validation_cpm": s} for p, s in zip(BASELINE_GRID, scores, strict=True)]}


def legacy_budget(train_log: list[dict]) -> dict:
    """The step count of a run from before step budgets (0.1.0: epochs under a 28-minute cap), from its log:
    epochs run x steps per epoch of the default configuration (1200 crops / batch 16)."""
    from training.cxr.train import TrainConfig, _steps_per_epoch

    epochs = [record for record in train_log if "epoch" in record]
    per_epoch = _steps_per_epoch(TrainConfig(out=""), 1)
    return {"unit": "optimizer steps", "wall_clock_cap": "28 min (--max-minutes)", "epochs_run": len(epochs),
            "steps_per_epoch": per_epoch, "steps_run": len(epochs) * per_epoch,
            "minutes": epochs[-1]["minutes"] if epochs else None,
            "derived_from": f"train_log: {len(epochs)} epochs x {per_epoch} steps of the default configuration"}


def measure(plugin: str | Path, splits: dict[str, PhantomSet], cache: Path, *, n_boot: int = 1000,
            shift_count: int | None = None, tuned: dict | None = None) -> dict:
    """Write "tiers" and "baseline_tuned" into metrics.json (splits "val" and "test") and the card;
    ``tuned``: the baseline already tuned on validation (else tuned here)."""
    plugin = Path(plugin)
    clock = time.monotonic()
    decoder = Decoder.of(plugin)
    model = str(plugin / "model.onnx")
    model_size = int(splits["test"].images.shape[-1])
    sets: dict[str, PhantomSet] = {"test": splits["test"]}
    for shift in (CONTROL, *SHIFTS.values()):
        shift = shift.with_count(shift_count) if shift_count else shift
        sets[shift.name] = build_shifted(shift, cache, model_size)
    tiers = {}
    for name, split in sets.items():
        tiers[name] = set_facts(ev.run_model(model, split), split, decoder, n_boot)
        row = tiers[name]["tiers"]
        print(f"[honest] {name}: high {row['high']['true']}/{row['high']['findings']}, medium "
              f"{row['medium']['true']}/{row['medium']['findings']}, ECE {row['ece']}", flush=True)
    seconds = time.monotonic() - clock
    clock = time.monotonic()
    tuned = dict(tuned) if tuned else tune_baseline(splits["val"])
    scores = ev.score_baseline(splits["test"], n_boot, tuned["params"])
    tuned["test"] = {"metrics": scores.metrics, "ci95": scores.ci}
    facts = json.loads((plugin / "metrics.json").read_text())
    facts["tiers"] = finite({"sets": tiers, "thresholds": {"high": decoder.calibration.high,
                                                     "medium": decoder.calibration.medium},
                      "report_probability": decoder.report_probability,
                      "calibrated_on": "validation (detection temperature, reporting threshold)",
                      "bootstrap": n_boot, "seconds": seconds})
    facts["baseline_tuned"] = finite(tuned | {"seconds": time.monotonic() - clock})
    facts.setdefault("budget", legacy_budget(facts.get("train_log", [])))
    # a metrics.json from before validation decisions (0.1.0) chose INT8 vs FP32 on the test split
    facts["int8"].setdefault("decided_on", "test")
    atomic_write_bytes(plugin / "metrics.json", json.dumps(facts, indent=2, default=float).encode())
    write_model_card(plugin / "MODEL_CARD.md", facts)
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/cxr", help="phantom caches (shared with the pipeline)")
    parser.add_argument("--plugin", default="plugins/chest_xray_nodules")
    parser.add_argument("--shift-count", type=int, help="images per shifted set (default: each set's own)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args(argv)
    cache = Path(args.work) / "cache"
    splits = {name: build_split(SPLITS[name], cache) for name in ("val", "test")}
    measure(args.plugin, splits, cache, n_boot=args.bootstrap, shift_count=args.shift_count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
