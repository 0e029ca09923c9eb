"""Honest evaluation of the shipped calcium plugin: tiers, shifted sets, calcium-free hearts, fair baseline.

    python -m training.calcium.honest --work build/calcium --plugin plugins/coronary_calcium_ct

1. The SHIPPED ``model.onnx`` (with the manifest's temperature) classifies the candidates of the
   validation split, the test split and every shifted set of ``training.calcium.domain`` (other kernels
   and noise, contrast-enhanced, calcium-free hearts: the same seeds and transforms), each case prepared by
   ``case_record`` exactly as the plugin prepares a study.
2. The plugin's findings are the candidates it assigns to an artery, each with the calibrated probability
   of that artery; a finding is true when the candidate's reference class is that artery. Per set: observed
   precision per tier (manifest thresholds) with case-bootstrap 95% CIs, ECE of the reported findings,
   per-lesion accuracy, risk-category kappa, total-Agatston ICC, false-positive lesions per case; on
   calcium-free hearts the specificity (no coronary finding, i.e. a zero score).
3. The baseline gets the model's candidate stage (``records.baseline_agatston``: every candidate within a
   radius of the heart centre counts); the radius is chosen by kappa on validation and the baseline is
   scored on test and on every shifted set.
4. ``metrics.json`` gets ``"tiers"`` (every other key kept) and MODEL_CARD.md is regenerated.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.ai.calibration import probabilities
from engine.ai.domain import Domain
from engine.ai.domain import score as score_domain
from engine.ai.manifest import load_manifest
from engine.atomic import atomic_write_bytes
from training.calcium import evaluate as ev
from training.calcium.domain import SHIFTED, FeatureCache, ShiftedSet, group_name, shift_rng
from training.calcium.phantom_data import SPLITS, SeedRange, build_split, load_record, save_record
from training.calcium.records import BASELINE_RADII_MM, CaseRecord, case_record
from training.calcium.stats import cohen_kappa
from training.phantoms.cardiac_ct import make_cardiac_ct
from training.tiers import ReportedFindings, finite, specificity, tier_table

REPORTED = ("lesion_accuracy", "false_positive_lesions_per_case", "kappa", "category_accuracy", "icc_total")


def shifted_path(spec: ShiftedSet, cache: Path, seed: int, size: int = 512) -> Path:
    """Where the record of phantom ``seed`` of the shifted set ``spec`` is cached."""
    return cache / "shifted" / group_name(spec.name) / f"{seed:06d}_{size}.npz"


def shifted_records(spec: ShiftedSet, cache: Path, size: int = 512) -> list[CaseRecord]:
    """Records of a shifted set (the transform of ``training.calcium.domain`` on each phantom), cached."""
    records = []
    for seed in spec.seeds:
        path = shifted_path(spec, cache, seed, size)
        if not path.is_file():
            case = make_cardiac_ct(seed, size=size)
            hu = spec.transform(case, shift_rng(seed))
            save_record(case_record(f"{spec.name}-{seed:06d}", hu, case.geometry, case.labels, case.heart_centre_lps),
                        path)
        records.append(load_record(path))
    return records


def findings(records: list[CaseRecord], logits: list[np.ndarray], temperature: float,
             capped: list[bool] | None = None) -> ReportedFindings:
    """Per case: (probability of the assigned artery, assignment correct) of every candidate put on an artery;
    ``capped``: per case, whether the domain check puts it outside (its findings shown as "needs review")."""
    per_case = []
    for record, logit in zip(records, logits, strict=True):
        if not len(logit):
            per_case.append([])
            continue
        p = probabilities(logit, temperature)
        classes = p.argmax(axis=1)
        per_case.append([(float(p[i, c]), bool(record.target[i] == c)) for i, c in enumerate(classes) if c > 0])
    return ReportedFindings.collect(per_case, capped)


def outside_domain(plugin: Path, domain: Domain, features: FeatureCache, group: str,
                   cases: list[tuple[int, int]], transform: Callable | None = None) -> list[bool]:
    """Per case (seed, size), whether the runtime's domain check (engine.ai.domain with the manifest's
    [domain], on the plugin's own image-level features) puts it outside the validated domain."""
    return [not score_domain(domain, plugin, features.get(group, seed, size, transform)[0]).in_domain
            for seed, size in cases]


def baseline_radius(records: list[CaseRecord]) -> int:
    """Index of the baseline radius with the best risk-category kappa on ``records`` (validation)."""
    truth = [ev.category_index(r.truth_scores[:, 0].sum()) for r in records]
    kappas = [cohen_kappa([ev.category_index(r.baseline_agatston[i]) for r in records], truth, 5)
              for i in range(len(BASELINE_RADII_MM))]
    return int(np.argmax(kappas))


def set_facts(records: list[CaseRecord], logits: list[np.ndarray], temperature: float, calibration,
              radius_index: int, n_boot: int, outside: list[bool] | None = None) -> dict:
    """One set's model and baseline metrics, tier tables (the model's own; with ``outside``, also as shown
    after the domain check's cap) and zero-score specificity."""
    reported = findings(records, logits, temperature)
    model, arrays = ev.evaluate_model("LesionNet", records, logits, temperature, n_boot)
    baseline = ev.evaluate_baseline("baseline", arrays["truth"][:, -1],
                                    np.array([r.baseline_agatston[radius_index] for r in records]), n_boot)
    per_case = np.bincount(reported.case, minlength=len(records))
    zero = arrays["cats_truth"] == 0
    return {
        "cases": len(records), "reference_lesions": int(sum(len(r.plaque_artery) for r in records)),
        "tiers": tier_table(reported, calibration, n_boot),
        **({} if outside is None else {
            "tiers_as_shown": tier_table(findings(records, logits, temperature, outside), calibration, n_boot),
            "outside_domain": int(sum(outside))}),
        "model": {key: {"value": model.metrics.get(key), "ci95": model.ci.get(key)} for key in REPORTED},
        "baseline": {key: {"value": baseline.metrics.get(key), "ci95": baseline.ci.get(key)}
                     for key in ("kappa", "category_accuracy", "icc_total")},
        "specificity_zero_score": specificity(per_case[zero]) if zero.any() else None,
    }


def measure(plugin: str | Path, work: str | Path, specs: dict[str, SeedRange] | None = None, *,
            n_boot: int = 1000, shifted: tuple[ShiftedSet, ...] = SHIFTED) -> dict:
    """Write "tiers" into metrics.json and regenerate the card."""
    plugin, cache = Path(plugin), Path(work) / "cache"
    specs = specs or SPLITS
    clock = time.monotonic()
    manifest = load_manifest(plugin / "manifest.toml")
    temperature, calibration = manifest.calibration.temperature, manifest.calibration
    model = plugin / "model.onnx"
    val = build_split(specs["val"], cache)
    radius_index = baseline_radius(val)
    sets = {"test": build_split(specs["test"], cache)}
    features = FeatureCache(work)
    outside: dict[str, list[bool] | None] = {"test": None}
    if manifest.domain is not None:
        outside["test"] = outside_domain(plugin, manifest.domain, features, specs["test"].name,
                                         [(seed, specs["test"].size(seed)) for seed in specs["test"].seeds])
    for spec in shifted:
        sets[spec.name] = shifted_records(spec, cache)
        outside[spec.name] = None if manifest.domain is None else outside_domain(
            plugin, manifest.domain, features, group_name(spec.name), [(seed, 512) for seed in spec.seeds],
            spec.transform)
        print(f"[honest] {spec.name}: {len(sets[spec.name])} cases", flush=True)
    table = {name: set_facts(records, ev.case_logits(model, records), temperature, calibration, radius_index,
                             n_boot, outside[name]) for name, records in sets.items()}
    facts = json.loads((plugin / "metrics.json").read_text())
    # a metrics.json from before validation decisions (0.1.0) chose INT8 vs FP32 on the test split
    facts["int8"].setdefault("decided_on", "test")
    facts["tiers"] = finite({"sets": table, "thresholds": {"high": calibration.high, "medium": calibration.medium},
                      "baseline": {"stage": "the model's candidates (find_candidates) within a radius of the "
                                            "true heart centre",
                                   "radius_mm": BASELINE_RADII_MM[radius_index], "chosen_on": "validation kappa",
                                   "radii_mm": list(BASELINE_RADII_MM)},
                      "shifted_descriptions": {spec.name: spec.description for spec in shifted},
                      "bootstrap": n_boot, "seconds": time.monotonic() - clock})
    atomic_write_bytes(plugin / "metrics.json", json.dumps(facts, indent=2, default=float).encode())
    from training.calcium.model_card import write_model_card

    write_model_card(plugin / "MODEL_CARD.md", facts)
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/calcium")
    parser.add_argument("--plugin", default="plugins/coronary_calcium_ct")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args(argv)
    measure(args.plugin, args.work, n_boot=args.bootstrap)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
