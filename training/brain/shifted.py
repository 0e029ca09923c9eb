"""Dice and HD95 of the brain segmenter on the shifted phantom sets (``training.brain.domain.SHIFTED``).

    python -m training.brain.shifted --model plugins/brain_tumor_mri/model.onnx --out build/brain/shifted.json
    python -m training.brain.shifted --plugin plugins/brain_tumor_mri   # update metrics.json and the card

Each case goes through the plugin's path (``prepare_brain``, sliding window, resampling back onto the
series' own grid), as on the test split. The reference is the phantom's exact labels; on the 5 mm set it is
each region resampled onto the thick-slice grid (share of each thick voxel >= 0.5), the grid the output is
on. The sets' seeds and parameters are those of the domain check, unchanged between versions so that the
numbers compare.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from plugins.brain_tumor_mri.preprocessing import REGIONS, prepare_brain, regions_from_labels, resample
from training.brain.domain import SHIFTED, THICK_MM, ShiftedSet, shifted_volumes
from training.brain.evaluate import Segmenter, onnx_logits, summarise
from training.brain.metrics import dice, hd95
from training.brain.plugin_files import OVERLAP, WINDOW
from training.phantoms.brain_mri import make_brain_mri

SHIFTED_TARGET_WT = 0.90  # issue 14: whole-tumour Dice on every shifted set


def shifted_truth(spec: ShiftedSet, seed: int, geometry) -> np.ndarray:
    """Bool WT/TC/ET regions (3, z, y, x) of one shifted case on ``geometry`` (the series' grid)."""
    case = make_brain_mri(seed, spec.shape)
    regions = regions_from_labels(case.labels)
    if not spec.thick:
        return regions
    return np.stack([resample(r.astype(np.float32), case.geometry, geometry) >= 0.5 for r in regions])


def parameters(spec: ShiftedSet) -> dict:
    """The set's acquisition parameters in the terms of ``training.brain.augment.coverage``."""
    out: dict = {}
    if spec.shift is not None:
        if spec.shift.gamma:
            out["gamma"] = dict(spec.shift.gamma)
        if spec.shift.bias_strength:
            out["bias_strength"] = spec.shift.bias_strength
        if spec.shift.noise_sigma:
            out["noise_sigma"] = spec.shift.noise_sigma
    if spec.thick:
        out["thick_mm"] = THICK_MM
    return out


def evaluate_shifted(sets: tuple[ShiftedSet, ...], systems: dict[str, Segmenter], rounds: int,
                     log: Callable[[str], None] = print) -> list[dict]:
    """Per set: description, seeds, parameters and, per system, the Dice / HD95 summary (mean, bootstrap CI)
    and the per-case Dice."""
    rows = []
    for spec in sets:
        scores: dict[str, dict[str, list]] = {name: {"dice": [], "hd95": []} for name in systems}
        for seed in spec.seeds:
            volumes = shifted_volumes(spec, seed)
            prepared = prepare_brain(volumes)
            truth = shifted_truth(spec, seed, prepared.source)
            spacing = prepared.source.spacing[::-1]
            for name, system in systems.items():
                predicted = system(prepared)
                scores[name]["dice"].append([dice(p, t) for p, t in zip(predicted, truth, strict=True)])
                scores[name]["hd95"].append([hd95(p, t, spacing) for p, t in zip(predicted, truth, strict=True)])
        tables = {name: {key: np.asarray(values) for key, values in table.items()} for name, table in scores.items()}
        row = {"name": spec.name, "description": spec.description, "seeds": [spec.seeds[0], spec.seeds[-1]],
               "cases": spec.count, "parameters": parameters(spec),
               "systems": {name: summarise(table, rounds) for name, table in tables.items()},
               "per_case_dice": {name: table["dice"].round(4).tolist() for name, table in tables.items()}}
        log(f"[shifted] {spec.name}: " + "; ".join(
            f"{name} WT {row['systems'][name]['dice']['WT']['mean']:.3f}" for name in systems))
        rows.append(row)
    return rows


def remeasure_plugin(plugin: Path, rounds: int) -> dict:
    """Measure the plugin's shipped model and its threshold baseline (``baseline_thresholds``) on every shifted
    set again, write them into metrics.json ("shifted", every other key kept) and regenerate MODEL_CARD.md.
    For a change of the shared preprocessing that leaves the phantom inputs the model was trained on as
    they were (the in-distribution numbers stay valid); returns the metrics."""
    from training.brain.baseline import Thresholds
    from training.brain.evaluate import baseline_segmenter
    from training.brain.model_card import write_model_card
    from training.domain_fit import record_metrics

    facts = json.loads((plugin / "metrics.json").read_text(encoding="utf-8"))
    logits = onnx_logits(plugin / "model.onnx", WINDOW, OVERLAP)
    systems = {facts["shipped"]: lambda prepared: logits(prepared) > 0,
               "baseline (thresholds)": baseline_segmenter(Thresholds(**facts["baseline_thresholds"]))}
    facts = record_metrics(plugin, "shifted", evaluate_shifted(SHIFTED, systems, rounds))
    write_model_card(plugin / "MODEL_CARD.md", facts)
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="segmenter ONNX model")
    parser.add_argument("--out", help="JSON file for the results")
    parser.add_argument("--plugin", help="instead: re-measure this plugin's shipped model and baseline and "
                        "update its metrics.json and MODEL_CARD.md")
    parser.add_argument("--count", type=int, help="cases per set (default: all)")
    parser.add_argument("--bootstrap", type=int, default=2000)
    args = parser.parse_args(argv)
    from training.brain.train import limit_threads

    limit_threads(1)
    if args.plugin:
        remeasure_plugin(Path(args.plugin), args.bootstrap)
        return 0
    if not (args.model and args.out):
        parser.error("--model and --out are required without --plugin")
    sets = tuple(dataclasses.replace(s, count=min(s.count, args.count)) if args.count else s for s in SHIFTED)
    logits = onnx_logits(args.model, WINDOW, OVERLAP)
    rows = evaluate_shifted(sets, {"model": lambda prepared: logits(prepared) > 0}, args.bootstrap)
    atomic_write_bytes(Path(args.out), json.dumps({"model": args.model, "regions": list(REGIONS), "sets": rows},
                                                  indent=2, default=float).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
