"""`make models` for the brain-tumour plugin: data -> training -> ONNX -> INT8 -> evaluation -> plugin files.

    python -m training.brain.pipeline --work build/brain --plugin plugins/brain_tumor_mri

Renders (or reuses) the cached phantom splits, trains (unless ``--checkpoint`` names a finished one),
exports FP32 ONNX and checks parity, quantises to INT8 (QDQ) and ships it only if it is faster and loses
at most 0.01 Dice ON VALIDATION, fits the WT temperature on validation, scores model and threshold baseline on the
held-out test split (Dice, HD95, bootstrap CIs), runs the new-site adaptation experiment (AdaBN, LoRA,
full fine-tuning), fits and measures the domain check (training/brain/domain.py: the model's bottleneck
features output, domain.npz, the manifest's [domain] table) and the noise gate (training/brain/noise_gate.py:
the manifest's [preprocessing].max_air_level), and writes model.onnx, library.npz +
thumbnails, manifest.toml, domain.npz, plots, metrics.json and MODEL_CARD.md into the plugin folder; then
fits the component-level finding probability on validation and measures the tiers on test, shifted and
tumour-free sets (training/brain/honest.py). Nothing is decided on test; the training budget is counted in
optimizer steps. ``--smoke`` runs everything on a few cases (pipeline check only).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from plugins.brain_tumor_mri.preprocessing import REGIONS, labels_from_regions
from training.brain import evaluate as ev
from training.brain.data import SPLITS, SplitSpec, build_split, render_spec
from training.brain.domain import DOMAIN_VAL, SHIFTED, SMOKE_DOMAIN_VAL, fit_and_measure, with_feature_output
from training.brain.noise_gate import fit_and_measure as fit_noise_gate
from training.brain.plugin_files import OVERLAP, WINDOW, write_library, write_manifest
from training.brain.shifted import evaluate_shifted
from training.brain.site_shift import SiteShift

VERSION = "0.1.1"
INT8_MAX_DICE_DROP = 0.01
MAX_STEPS = 480  # the training budget (12 epochs of 40 steps; about 20 min on one CPU thread)
LIBRARY_SEEDS = list(range(24))
SMOKE_SPLITS = {
    "train": SplitSpec("train", 0, 4), "val": SplitSpec("val", 100_000, 2, ((80, 96, 80),)),
    "test": SplitSpec("test", 200_000, 2, ((80, 96, 80),)),
    "site_train": SplitSpec("site_train", 300_000, 4, new_site=True),
    "site_test": SplitSpec("site_test", 400_000, 2, ((80, 96, 80),), new_site=True),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/brain", help="caches, checkpoints and intermediate models")
    parser.add_argument("--plugin", default="plugins/brain_tumor_mri")
    parser.add_argument("--checkpoint", help="use this trained checkpoint instead of training")
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS,
                        help=f"optimizer-step cap (default {MAX_STEPS}; 0: epochs x steps/epoch)")
    parser.add_argument("--adapt-steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--augment", action="store_true",
                        help="train with the acquisition augmentation (training.brain.augment; off by default)")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="a few tiny cases, 1 short epoch (pipeline check)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.adapt_steps, args.bootstrap = 2, 20
    run(args, SMOKE_SPLITS if args.smoke else SPLITS)
    return 0


def run(args: argparse.Namespace, specs: dict[str, SplitSpec]) -> dict:
    from training.brain.adapt import adaptation_table
    from training.brain.baseline import baseline_regions, fit
    from training.brain.export import OPSET, export_onnx, parity, quantize, seconds_per_volume
    from training.brain.metrics import dice
    from training.brain.model import parameter_count
    from training.brain.plots import adaptation_plot, dice_plot, example_plot, reliability_plot
    from training.brain.train import TrainConfig, limit_threads, load_model, train

    limit_threads(args.threads)
    work, plugin = Path(args.work), Path(args.plugin)
    cache = work / "cache"
    timings: dict[str, float] = {}
    clock = time.monotonic()
    splits = {name: build_split(specs[name], cache) for name in ("train", "val")}
    timings["data"] = time.monotonic() - clock
    clock = time.monotonic()
    if args.checkpoint:
        checkpoint = Path(args.checkpoint)
    else:
        from training.brain.augment import Augmentation

        config = TrainConfig(out=str(work / "run"), cache=str(cache), max_steps=args.max_steps,
                             augmentation=Augmentation() if getattr(args, "augment", False) else None)
        if args.smoke:
            config = dataclasses.replace(config, epochs=1, steps_per_epoch=3)
        checkpoint = train(config, splits)
    timings["train"] = time.monotonic() - clock
    print(f"[models] checkpoint {checkpoint}", flush=True)

    clock = time.monotonic()
    model = load_model(checkpoint)
    fp32 = export_onnx(model, work / "model_fp32.onnx", WINDOW)
    max_diff = parity(model, fp32, [image.astype(np.float32) for image in splits["val"].images[:2]])
    crops = [image[:, :64, 16:80, 8:72].astype(np.float32) for image in splits["train"].images[:16:2]]
    int8 = quantize(fp32, work / "model_int8.onnx", crops)
    speed = seconds_per_volume({"fp32": fp32, "int8": int8}, splits["val"].images[0].astype(np.float32),
                               threads=args.threads)
    timings["export"] = time.monotonic() - clock
    print(f"[models] parity max |torch - onnx| {max_diff:.2e}; s/volume {speed}", flush=True)

    clock = time.monotonic()
    thresholds = fit(splits["val"].images, splits["val"].targets)
    systems = {"model FP32": ev.onnx_logits(fp32, WINDOW, OVERLAP), "model INT8": ev.onnx_logits(int8, WINDOW, OVERLAP)}
    segmenters = {name: (lambda prepared, f=f: f(prepared) > 0) for name, f in systems.items()}
    segmenters["baseline (thresholds)"] = ev.baseline_segmenter(thresholds)
    # INT8 vs FP32 is decided on VALIDATION (Dice drop, speed); the test split only reports
    val_scores = ev.evaluate(specs["val"], {name: segmenters[name] for name in systems})
    val_dice = {name: table["dice"].mean(axis=0) for name, table in val_scores.items()}
    val_drop = float(np.max(val_dice["model FP32"] - val_dice["model INT8"]))
    scores = ev.evaluate(specs["test"], segmenters)
    summaries = {name: ev.summarise(table, args.bootstrap) for name, table in scores.items()}
    fp32_dice = scores["model FP32"]["dice"].mean(axis=0)
    int8_drop = float(np.max(fp32_dice - scores["model INT8"]["dice"].mean(axis=0)))
    ship_int8 = speed["int8"] < speed["fp32"] and val_drop <= INT8_MAX_DICE_DROP
    shipped_name = "model INT8" if ship_int8 else "model FP32"
    shipped_path = int8 if ship_int8 else fp32
    calibration, val_logits, val_labels = ev.calibrate(shipped_path, splits["val"], WINDOW, OVERLAP)
    difference = ev.paired_difference(scores[shipped_name]["dice"], scores["baseline (thresholds)"]["dice"],
                                      args.bootstrap)
    timings["evaluate"] = time.monotonic() - clock
    print(f"[models] test Dice {json.dumps({n: s['dice'] for n, s in summaries.items()})}", flush=True)

    clock = time.monotonic()  # the shifted sets (reported only; nothing is decided on them)
    shifted_sets = tuple(dataclasses.replace(s, count=2) for s in SHIFTED) if args.smoke else SHIFTED
    shifted = evaluate_shifted(shifted_sets, {name: segmenters[name] for name in (shipped_name,
                                                                                  "baseline (thresholds)")},
                               args.bootstrap)
    timings["shifted"] = time.monotonic() - clock

    clock = time.monotonic()
    site = {name: build_split(specs[name], cache) for name in ("site_train", "site_test")}
    adaptation = adaptation_table(model, site["site_train"], site["site_test"], args.adapt_steps)
    site_baseline = np.asarray([[dice(p, t) for p, t in zip(baseline_regions(image.astype(np.float32), thresholds),
                                                               target, strict=True)]
                                for image, target in zip(site["site_test"].images, site["site_test"].targets,
                                                         strict=True)])
    adaptation.append({"method": "baseline (thresholds)", "trained_parameters": 0, "labelled_cases": 0,
                       "seconds": 0.0, "dice": dict(zip(REGIONS, site_baseline.mean(axis=0).round(4).tolist(),
                                                        strict=True)), "per_case": site_baseline.tolist()})
    timings["adaptation"] = time.monotonic() - clock

    clock = time.monotonic()
    plugin.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped_path, plugin / "model.onnx")
    with_feature_output(plugin / "model.onnx")  # domain features; logits checked bit-identical
    write_library(plugin, LIBRARY_SEEDS[: 4 if args.smoke else None], (100, 120, 100))
    train_spec = specs["train"]
    training_data = (f"Synthetic four-sequence brain MRI phantoms (training/phantoms/brain_mri.py), seeds "
                     f"{train_spec.first_seed}-{train_spec.first_seed + train_spec.count - 1}; no patient data.")
    write_manifest(plugin, "model.onnx", calibration["temperature"], VERSION, training_data)
    test = specs["test"]
    dice_plot({name: table["dice"] for name, table in scores.items()}, plugin / "dice_test.png",
              f"Dice per case, held-out phantom test split (n={test.count}, seeds {test.seeds[0]}-{test.seeds[-1]})")
    reliability_plot(val_logits, val_labels, calibration["temperature"], plugin / "calibration.png",
                     "WT voxel reliability, validation split")
    adaptation_plot(adaptation, plugin / "adaptation.png", "New-site phantoms: adaptation")
    rendered = render_spec(test, test.seeds[0])
    predicted = labels_from_regions(systems[shipped_name](rendered.prepared) > 0)
    example_plot(rendered.case.sequences["T1c"], rendered.case.sequences["FLAIR"], rendered.case.labels, predicted,
                 plugin / "example.png", f"Test phantom seed {test.seeds[0]}")
    timings["plugin"] = time.monotonic() - clock
    clock = time.monotonic()
    domain = fit_and_measure(plugin, cache, specs, SMOKE_DOMAIN_VAL if args.smoke else DOMAIN_VAL,
                             tuple(dataclasses.replace(s, count=2) for s in SHIFTED) if args.smoke else SHIFTED)
    timings["domain"] = time.monotonic() - clock
    clock = time.monotonic()
    noise_gate = fit_noise_gate(plugin, (specs["val"], SMOKE_DOMAIN_VAL if args.smoke else DOMAIN_VAL),
                                specs["test"], specs["site_test"], shifted_sets)
    timings["noise_gate"] = time.monotonic() - clock
    facts = {
        "version": VERSION,
        "splits": {name: dataclasses.asdict(spec) for name, spec in specs.items()},
        "checkpoint": str(checkpoint),
        "parameters": parameter_count(model),
        "net": model.config.to_dict(),
        "train_log": _train_log(checkpoint.parent / "train_log.jsonl"),
        "opset": OPSET,
        "parity_max_abs_diff": max_diff,
        "calibration": calibration,
        "baseline_thresholds": dataclasses.asdict(thresholds),
        "systems": summaries,
        "difference_vs_baseline": difference,
        "shipped": shipped_name,
        "int8": {"seconds_per_volume": speed, "max_dice_drop": int8_drop, "shipped": ship_int8,
                 "threads": args.threads, "decided_on": "validation", "validation_max_dice_drop": val_drop},
        "budget": _budget(checkpoint),
        "augmentation": _augmentation(checkpoint),
        "shifted": shifted,
        "site_shift": SiteShift().describe(),
        "adaptation": [{k: v for k, v in row.items() if k != "per_case"} for row in adaptation],
        "adapt_steps": args.adapt_steps,
        "timings_s": timings,
        "bootstrap": args.bootstrap,
        "window": list(WINDOW),
        "overlap": OVERLAP,
        "smoke": bool(args.smoke),
        "domain": domain,
        "noise_gate": noise_gate,
    }
    atomic_write_bytes(plugin / "metrics.json", json.dumps(facts, indent=2, default=float).encode())
    from training.brain.model_card import write_model_card

    write_model_card(plugin / "MODEL_CARD.md", facts)
    from training.brain.honest import TUMOUR_FREE_TEST, measure

    small = {"val": specs["val"], "test": specs["test"], "tumour_free": dataclasses.replace(TUMOUR_FREE_TEST, count=2),
             "shifted": tuple(dataclasses.replace(s, count=2) for s in SHIFTED)} if args.smoke else {}
    facts = measure(plugin, n_boot=args.bootstrap, **small)
    print(f"[models] done in {sum(timings.values()) / 60:.1f} min: {plugin}", flush=True)
    return facts


def _budget(checkpoint: Path) -> dict:
    """The step budget of the run that wrote ``checkpoint`` (its saved config) and the steps it ran."""
    import torch

    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config, state = saved.get("config", {}), saved.get("state", {})
    log = _train_log(Path(checkpoint).parent / "train_log.jsonl")
    return {"unit": "optimizer steps", "epochs": config.get("epochs"), "steps_per_epoch": config.get("steps_per_epoch"),
            "max_steps": config.get("max_steps"), "seed": config.get("seed"), "steps_at_best": state.get("steps"),
            "steps_run": max((row.get("steps", 0) for row in log), default=None)}


def _augmentation(checkpoint: Path) -> dict | None:
    """The acquisition augmentation the run that wrote ``checkpoint`` trained with (None: before it existed)."""
    import torch

    from training.brain.augment import Augmentation

    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    settings = saved.get("config", {}).get("augmentation")
    if settings is None:
        return None
    return {**settings, "description": Augmentation(**{k: tuple(v) if isinstance(v, list) else v
                                                         for k, v in settings.items()}).describe()}


def _train_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    raise SystemExit(main())
