"""`make models` for the chest X-ray plugin: data -> training -> ONNX -> INT8 -> evaluation -> plugin files.

    python -m training.cxr.pipeline --work build/cxr --plugin plugins/chest_xray_nodules

Renders (or reuses) the cached phantom splits, trains (unless ``--checkpoint`` names a finished one),
exports FP32 ONNX and checks parity, quantises to INT8 (QDQ S8S8, per-channel) and ships it only if it
is faster and within 0.01 AUC ON VALIDATION, fits temperatures on validation, tunes the LoG baseline on
validation, scores model and baseline on the held-out test split with bootstrap CIs, and writes model.onnx,
library.npz + thumbnails, manifest.toml, plots, metrics.json and MODEL_CARD.md into the plugin folder; then
fits and measures the domain check (``training.cxr.domain``: domain.npz, the manifest's [domain] table,
metrics.json "domain") and the tiers of the reported findings on test and the shifted sets
(``training.cxr.honest``: metrics.json "tiers"). Nothing is decided on test. The training budget is
counted in optimizer steps (``--epochs``, ``--max-steps``), not in minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from training.cxr import evaluate as ev
from training.cxr.domain import DOMAIN_VAL, REFERENCE_CASES, fit_and_measure, reference_split
from training.cxr.export import OPSET, export_onnx, parity
from training.cxr.honest import measure, tune_baseline
from training.cxr.metrics import auc
from training.cxr.model_card import write_model_card
from training.cxr.phantom_dataset import SPLITS, SplitSpec, build_split, render_seconds
from training.cxr.plots import froc_plot, reliability_plot
from training.cxr.plugin_files import write_library, write_manifest
from training.cxr.quantize import quantize, seconds_per_image
from training.cxr.variety import variety_facts

VERSION = "0.2.0"
LIBRARY_CASES = 200
# --smoke: a few tiny images end to end (checks the pipeline, not the model)
SMOKE_SPLITS = {"train": SplitSpec("train", 0, 24, 256, 128, variety=True),
                "val": SplitSpec("val", 500_000, 12, 256, 128), "test": SplitSpec("test", 900_000, 12, 256, 128)}
SMOKE_DOMAIN_VAL = SplitSpec("domain_val", 600_000, 6, 256, 128)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/cxr", help="caches, checkpoints and intermediate models")
    parser.add_argument("--plugin", default="plugins/chest_xray_nodules")
    parser.add_argument("--checkpoint", help="use this trained checkpoint instead of training")
    parser.add_argument("--epochs", type=int, default=11)
    parser.add_argument("--max-steps", type=int, default=0,
                        help="optimizer-step budget (0: epochs x steps per epoch)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="tiny splits at 128 px, 1 epoch (pipeline check)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.bootstrap = 1, 20
    run(args, SMOKE_SPLITS if args.smoke else SPLITS)
    return 0


def run(args: argparse.Namespace, specs: dict[str, SplitSpec]) -> dict:
    import torch

    from training.cxr.train import TrainConfig, load_model, train

    torch.set_num_threads(args.threads)
    work, plugin = Path(args.work), Path(args.plugin)
    timings: dict[str, float] = {}
    clock = time.monotonic()
    splits = {name: build_split(spec, work / "cache", workers=args.threads) for name, spec in specs.items()}
    timings["data"] = max(time.monotonic() - clock, sum(render_seconds(s, work / "cache") for s in specs.values()))
    clock = time.monotonic()
    checkpoint = Path(args.checkpoint) if args.checkpoint else train(
        TrainConfig(out=str(work / "run"), cache=str(work / "cache"), train=specs["train"], val=specs["val"],
                    epochs=args.epochs,
                    max_steps=args.max_steps, threads=args.threads), resume=True)
    timings["train"] = _logged_train_seconds(checkpoint) if args.checkpoint else time.monotonic() - clock
    print(f"[models] checkpoint {checkpoint}", flush=True)

    clock = time.monotonic()
    model = load_model(checkpoint)
    fp32 = export_onnx(model, work / "model_fp32.onnx", specs["train"].model_size)
    max_diff = parity(model, fp32, np.asarray(splits["val"].images[:4], dtype=np.float32))
    int8 = quantize(fp32, work / "model_int8.onnx", np.asarray(splits["train"].images[:64:2], dtype=np.float32))
    timings["export"] = time.monotonic() - clock
    print(f"[models] parity max |torch - onnx|: {max_diff}", flush=True)

    clock = time.monotonic()
    # each model gets the temperatures fitted on its own validation outputs (AUC does not depend on them);
    # INT8 ships when it is faster and loses at most 0.01 image AUC on VALIDATION (test only reports)
    val = splits["val"]
    val_fp32, val_int8 = ev.run_model(str(fp32), val), ev.run_model(str(int8), val)
    fp32_temperatures = ev.fit_temperatures(val, val_fp32)
    int8_temperatures = ev.fit_temperatures(val, val_int8)
    speed = _speeds({"fp32": fp32, "int8": int8}, np.asarray(val.images[:8], dtype=np.float32))
    val_auc_drop = auc(val_fp32.image_logits, val.positive) - auc(val_int8.image_logits, val.positive)
    ship_int8 = speed["int8"] < speed["fp32"] and val_auc_drop <= 0.01
    tuned = tune_baseline(val)
    test_fp32 = ev.run_model(str(fp32), splits["test"])
    test_int8 = ev.run_model(str(int8), splits["test"])
    model_scores = ev.score_model("NoduleNet FP32", test_fp32, splits["test"], fp32_temperatures, args.bootstrap)
    int8_scores = ev.score_model("NoduleNet INT8", test_int8, splits["test"], int8_temperatures, args.bootstrap)
    baseline = ev.score_baseline(splits["test"], args.bootstrap, tuned["params"])
    auc_drop = model_scores.metrics["auc"] - int8_scores.metrics["auc"]
    timings["evaluate"] = time.monotonic() - clock
    print(f"[models] speed {speed} validation auc drop {val_auc_drop:.4f} ship int8 {ship_int8}", flush=True)

    clock = time.monotonic()
    plugin.mkdir(parents=True, exist_ok=True)
    shipped = int8 if ship_int8 else fp32
    shutil.copyfile(shipped, plugin / "model.onnx")
    temperatures = int8_temperatures if ship_int8 else fp32_temperatures
    shipped_test = test_int8 if ship_int8 else test_fp32
    # the similar-case library and the domain check's reference are plain renders of the first training
    # seeds: the validated domain is the generator's own, not the training split's acquisition variety
    reference = reference_split(specs["train"].plain, min(REFERENCE_CASES, specs["train"].count), work / "cache")
    library_predictions = ev.run_model(str(plugin / "model.onnx"), _head(reference, LIBRARY_CASES))
    write_library(plugin, np.asarray(reference.images[:LIBRARY_CASES]), reference.seeds[:LIBRARY_CASES],
                  library_predictions.embeddings)
    first, count = specs["train"].first_seed, specs["train"].count
    variety = " with acquisition variety (training/cxr/variety.py)" if specs["train"].variety else ""
    training_data = (f"Synthetic PA chest radiograph phantoms (training/phantoms/chest_xray.py), seeds "
                     f"{first}-{first + count - 1}{variety}; no patient data.")
    write_manifest(plugin, "model.onnx", temperatures, VERSION, training_data, specs["train"].model_size)
    froc_plot({s.name: s.froc for s in (model_scores, int8_scores, baseline)}, plugin / "froc.png",
              f"FROC, held-out phantom test split (n={len(splits['test'])})")
    reliability_plot(ev.reliability_data(shipped_test, splits["test"], temperatures), plugin / "calibration.png",
                     f"Reliability, test split (shipped {'INT8' if ship_int8 else 'FP32'} model)")
    timings["plugin"] = time.monotonic() - clock
    facts = {
        "version": VERSION,
        "splits": {name: dataclasses.asdict(spec) for name, spec in specs.items()},
        "split_sizes": {name: {"images": len(s), "nodules": int(len(s.nodules["case"])),
                               "positive_images": int(s.positive.sum())} for name, s in splits.items()},
        "checkpoint": str(checkpoint),
        "train_log": _train_log(Path(checkpoint).parent / "train_log.jsonl"),
        "opset": OPSET,
        "parity_max_abs_diff": max_diff,
        "temperatures": dataclasses.asdict(temperatures) | {"report_probability": temperatures.report_probability},
        "systems": {s.name: {"metrics": s.metrics, "ci95": s.ci} for s in (model_scores, int8_scores, baseline)},
        "int8": {"seconds_per_image": speed, "auc_drop": auc_drop, "shipped": ship_int8, "decided_on": "validation",
                 "validation_auc_drop": val_auc_drop, "rule": "faster and validation AUC drop <= 0.01"},
        "budget": _budget(Path(checkpoint)),
        "augmentation": _augmentation(Path(checkpoint)),
        **({"variety": variety_facts()} if specs["train"].variety else {}),
        "baseline_params": tuned["params"],
        "timings_s": timings,
        "bootstrap": args.bootstrap,
    }
    atomic_write_bytes(plugin / "metrics.json", json.dumps(facts, indent=2, default=float).encode())
    write_model_card(plugin / "MODEL_CARD.md", facts)
    # domain check (domain.npz + [domain]) fitted on training + validation embeddings of the shipped model,
    # measured on test, shifted and real images; it adds "domain" to metrics.json and the card
    facts["domain"] = fit_and_measure(
        plugin, {"reference": reference, "val": splits["val"], "test": splits["test"],
                 "domain_val": build_split(SMOKE_DOMAIN_VAL if args.smoke else DOMAIN_VAL, work / "cache")},
        work / "cache",
        n_boot=args.bootstrap, shift_count=4 if args.smoke else None,
        reference_spec=dataclasses.replace(specs["train"].plain, count=len(reference)))
    facts = measure(plugin, {"val": splits["val"], "test": splits["test"]}, work / "cache", n_boot=args.bootstrap,
                    shift_count=4 if args.smoke else None, tuned=tuned)
    print(f"[models] done: {plugin}", flush=True)
    return facts


def _head(split, n: int):
    return dataclasses.replace(split, images=split.images[:n], lungs=split.lungs[:n], seeds=split.seeds[:n],
                               spacing_mm=split.spacing_mm[:n])


def _speeds(models: dict[str, Path], images: np.ndarray, rounds: int = 5) -> dict[str, float]:
    """Median s/image per model, measured in alternating rounds (the machine is shared and noisy)."""
    samples: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, path in models.items():
            samples[name].append(seconds_per_image(path, images, threads=2, repeats=1))
    return {name: statistics.median(values) for name, values in samples.items()}


def _budget(checkpoint: Path) -> dict:
    """The step budget of the run that wrote ``checkpoint`` (its saved config) and the steps it ran."""
    import torch

    data = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config, state = data.get("config", {}), data.get("state", {})
    return {"unit": "optimizer steps", "epochs": config.get("epochs"), "max_steps": config.get("max_steps"),
            "batch_size": config.get("batch_size"), "crops_per_epoch": config.get("crops_per_epoch"),
            "seed": config.get("seed"), "steps_at_best": state.get("step"),
            "steps_run": max((r.get("steps", 0) for r in _train_log(checkpoint.parent / "train_log.jsonl")),
                             default=None)}


def _augmentation(checkpoint: Path) -> dict:
    """The geometric augmentation ranges of the run that wrote ``checkpoint``."""
    import torch

    config = torch.load(checkpoint, map_location="cpu", weights_only=False).get("config", {})
    return {"max_degrees": config.get("max_degrees", 5.0), "scale_range": config.get("scale_range", 0.08)}


def _logged_train_seconds(checkpoint: Path) -> float:
    """Training time recorded in the checkpoint folder's log (epochs, then the image head)."""
    log = _train_log(checkpoint.parent / "train_log.jsonl")
    epochs = [r["minutes"] * 60 for r in log if "epoch" in r]
    heads = [r["image_head"].get("seconds", 0.0) for r in log if "image_head" in r]
    return (epochs[-1] if epochs else 0.0) + (heads[-1] if heads else 0.0)


def _train_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    raise SystemExit(main())
