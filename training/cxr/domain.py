"""The chest X-ray plugin's domain check: fit on training + validation, measure on test, shifted and real images.

    python -m training.cxr.domain --work build/cxr --plugin plugins/chest_xray_nodules

1. The SHIPPED ``model.onnx`` embeds a subset of the training split (the reference, default the first 400
   seeds), the validation split and the test split (phantom splits of ``training.cxr.phantom_dataset``,
   cached under ``<work>/cache``).
2. ``training.domain_fit.fit_domain`` writes ``domain.npz`` (reference) and the manifest's ``[domain]`` table
   (k = 5; threshold at 95% retention of the validation split and the domain-validation seed range
   ``DOMAIN_VAL``, 1000 images together). Nothing is chosen on test.
3. Measured with the runtime's own scoring (``engine.ai.domain``, the manifest's threshold): the flagged
   share of the test split; the AUROC of the domain score for test vs each shifted set
   (``training.cxr.shifted``) and vs real public DICOM (``training.public_dicom``: every grayscale 2D image
   and the middle slice of every grayscale 3D volume, prepared as ``logic.py`` prepares a radiograph);
   the detector's sensitivity at <= 0.5 FP/image on each shifted set next to the test split (bootstrap 95%
   CIs over images).
4. ``metrics.json`` gets the numbers under ``"domain"`` (every other key kept) and MODEL_CARD.md is
   regenerated from metrics.json (``training.cxr.model_card``).

``training.cxr.pipeline`` calls :func:`fit_and_measure` after writing the plugin files (``make models``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
import tomllib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.ai.domain import knn_distances, load_reference
from engine.atomic import atomic_write_bytes
from engine.preprocessing.cxr import prepare_cxr
from training.cxr import evaluate as ev
from training.cxr.metrics import bootstrap, detection_metrics, match
from training.cxr.model_card import write_model_card
from training.cxr.phantom_dataset import SPLITS, PhantomSet, SplitSpec, build_split
from training.cxr.predict import Predictions, onnx_forward
from training.cxr.shifted import CONTROL, SHIFTS, Shift, build_shifted
from training.domain_fit import domain_auroc, fit_domain, record_domain_metrics

REFERENCE_CASES = 400  # training seeds embedded as the reference (of 1200)
K = 5
# The 95% quantile of 250 validation images moved the test split's flagged share to 8.8%; the threshold is now
# set on 1000 validation images: the validation split plus this disjoint seed range, rendered the same way.
DOMAIN_VAL = SplitSpec("domain_val", 600_000, 750, 2048)
VALIDATION_SPLITS = ("val", "domain_val")
TARGETS = {"test_flagged_max": 0.05, "shifted_auroc_min": 0.80, "real_auroc_min": 0.95}
GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")


@dataclass
class RealImage:
    """One real public image as the plugin would see it: its name, modality, body part and embedding."""

    name: str
    modality: str
    body_part: str
    chest_radiograph: bool
    embedding: np.ndarray


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/cxr", help="phantom caches (shared with the pipeline)")
    parser.add_argument("--plugin", default="plugins/chest_xray_nodules")
    parser.add_argument("--reference", type=int, default=REFERENCE_CASES, help="training cases in the reference")
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--shift-count", type=int, help="images per shifted set (default: each set's own)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args(argv)
    cache = Path(args.work) / "cache"
    clock = time.monotonic()
    splits = {"reference": reference_split(SPLITS["train"], args.reference, cache),
              "val": build_split(SPLITS["val"], cache), "domain_val": build_split(DOMAIN_VAL, cache),
              "test": build_split(SPLITS["test"], cache)}
    print(f"[domain] splits ready ({time.monotonic() - clock:.0f} s)", flush=True)
    fit_and_measure(args.plugin, splits, cache, k=args.k, n_boot=args.bootstrap, shift_count=args.shift_count,
                    reference_spec=SplitSpec("train", SPLITS["train"].first_seed, args.reference,
                                             SPLITS["train"].render_size))
    return 0


def validation_embeddings(predictions: dict[str, Predictions]) -> np.ndarray:
    """The embeddings the threshold is set on: the validation split and, when present, the domain-validation
    seed range (``DOMAIN_VAL``)."""
    return np.concatenate([predictions[name].embeddings for name in VALIDATION_SPLITS if name in predictions])


def reference_split(train: SplitSpec, count: int, cache: Path) -> PhantomSet:
    """The first ``count`` training cases: from the full split's cache when the pipeline made it, else
    rendered on their own (the same seeds and render size, so the same images)."""
    if (cache / train.key / "done.json").is_file():
        return head(build_split(train, cache), count)
    return build_split(SplitSpec(train.name, train.first_seed, count, train.render_size, train.model_size), cache)


def head(split: PhantomSet, n: int) -> PhantomSet:
    """The first ``n`` cases of ``split``."""
    keep = split.nodules["case"] < n
    return PhantomSet(images=split.images[:n], lungs=split.lungs[:n], seeds=split.seeds[:n],
                      spacing_mm=split.spacing_mm[:n], nodules={k: v[keep] for k, v in split.nodules.items()})


def fit_and_measure(plugin: str | Path, splits: dict[str, PhantomSet], cache: Path, *, k: int = K,
                    n_boot: int = 1000, shift_count: int | None = None,
                    reference_spec: SplitSpec | None = None) -> dict:
    """Fit the domain check into ``plugin`` (splits "reference", "val", "test") and write its measurements
    into metrics.json and the model card; returns the "domain" facts."""
    plugin = Path(plugin)
    timings: dict[str, float] = {}
    clock = time.monotonic()
    model = str(plugin / "model.onnx")
    predictions = {name: ev.run_model(model, split) for name, split in splits.items()}
    timings["embed_splits"] = time.monotonic() - clock

    drop_domain_table(plugin / "manifest.toml")  # a re-run replaces the table and its comment
    fit = fit_domain(plugin, predictions["reference"].embeddings, validation_embeddings(predictions), k=k)
    domain = read_manifest(plugin)["domain"]
    threshold = float(domain["threshold"])
    reference = load_reference(plugin / domain["reference"], domain["sha256"])

    def scores(embeddings: np.ndarray) -> np.ndarray:  # as the runtime scores one input (rounded to 1e-6)
        return np.round(knn_distances(np.asarray(embeddings, np.float32), reference, int(domain["k"])), 6)

    val_scores, test_scores = scores(validation_embeddings(predictions)), scores(predictions["test"].embeddings)
    print(f"[domain] threshold {threshold:.6f}, validation retained {np.mean(val_scores <= threshold):.3f}, "
          f"test flagged {np.mean(test_scores > threshold):.3f}", flush=True)
    operating_logit = report_logit(plugin)
    test_detection = detection_summary(predictions["test"], splits["test"], operating_logit, n_boot)

    clock = time.monotonic()
    model_size = int(splits["test"].images.shape[-1])

    def shifted_set(shift: Shift) -> dict:
        shift = shift.with_count(shift_count) if shift_count else shift
        cases = build_shifted(shift, cache, model_size)
        predicted = ev.run_model(model, cases)
        values = scores(predicted.embeddings)
        facts = {
            "description": shift.description, "seeds": [shift.first_seed, shift.first_seed + shift.count - 1],
            "images": len(cases), "nodules": int(len(cases.nodules["case"])),
            "flagged": float(np.mean(values > threshold)),
            "flagged_ci95": wilson(int(np.sum(values > threshold)), len(values)),
            "score_median": float(np.median(values)),
            **auroc_with_ci(test_scores, values, n_boot),
            "detection": detection_summary(predicted, cases, operating_logit, n_boot),
        }
        print(f"[domain] {shift.name}: AUROC {facts['auroc_vs_test']:.3f}, flagged {facts['flagged']:.3f}, "
              f"sens@0.5 {facts['detection']['sens@0.5']:.3f}", flush=True)
        return facts

    control = shifted_set(CONTROL)
    shifted = {name: shifted_set(shift) for name, shift in SHIFTS.items()}
    timings["shifted"] = time.monotonic() - clock

    clock = time.monotonic()
    real = list(real_images(plugin, model_size))
    real_scores = scores(np.stack([image.embedding for image in real]))
    timings["real"] = time.monotonic() - clock
    facts = {
        "method": "knn_cosine", "features": fit.features, "k": fit.k,
        "reference": {**_spec(reference_spec, splits["reference"]), "images": fit.reference_cases,
                      "sha256": fit.sha256},
        "threshold": threshold, "retention": float(domain["retention"]),
        "validation": {"images": len(val_scores), "retained": float(np.mean(val_scores <= threshold)),
                       "splits": [{"name": name, "first_seed": int(splits[name].seeds[0]), "images": len(splits[name])}
                                  for name in VALIDATION_SPLITS if name in splits],
                       "score_median": float(np.median(val_scores))},
        "test": {"images": len(test_scores), "nodules": int(len(splits["test"].nodules["case"])),
                 "flagged": float(np.mean(test_scores > threshold)),
                 "flagged_ci95": wilson(int(np.sum(test_scores > threshold)), len(test_scores)),
                 "score_median": float(np.median(test_scores)), "detection": test_detection},
        "control": control,
        "shifted": shifted,
        "real": real_summary(real, real_scores, test_scores, threshold, n_boot),
        "targets": TARGETS,
        "bootstrap": n_boot,
        "timings_s": timings,
    }
    print(f"[domain] real images: {facts['real']['images']}, AUROC {facts['real']['auroc_vs_test']:.3f}, "
          f"flagged {facts['real']['flagged']:.3f}", flush=True)
    write_facts(plugin, facts)
    return facts


def _spec(spec: SplitSpec | None, split: PhantomSet) -> dict:
    if spec is not None:
        return {key: value for key, value in dataclasses.asdict(spec).items() if key != "model_size"}
    return {"name": "train", "first_seed": int(split.seeds[0]), "count": len(split)}


def drop_domain_table(manifest: Path) -> None:
    """Remove a trailing ``[domain]`` table with the comment ``fit_domain`` writes above it (that function
    replaces the table but keeps the comment, so a second fit would repeat it)."""
    text = manifest.read_text(encoding="utf-8")
    start = text.find("\n# Domain check:")
    if start < 0:
        return
    tail = text[start:].splitlines()
    tables = [line.strip() for line in tail if line.strip().startswith("[")]
    if tables == ["[domain]"]:  # only the comment and the table follow: both go
        atomic_write_bytes(manifest, (text[:start].rstrip("\n") + "\n").encode())


def read_manifest(plugin: Path) -> dict:
    with open(plugin / "manifest.toml", "rb") as handle:
        return tomllib.load(handle)


def report_logit(plugin: Path) -> float:
    """The detection logit of the shipped reporting threshold (``report_probability`` at the detection
    temperature): the operating point a reader sees."""
    settings = read_manifest(plugin)["preprocessing"]
    p = float(settings["report_probability"])
    return float(settings["detection_temperature"]) * math.log(p / (1 - p))


def detection_summary(predictions: Predictions, split: PhantomSet, operating_logit: float, n_boot: int) -> dict:
    """Sensitivity at <= 0.5 FP/image (FROC point on this set), CPM, and sensitivity and FP/image at the
    shipped reporting threshold, each with a bootstrap 95% CI over images."""
    truths = [split.case_nodules(i) for i in range(len(split))]
    matched = match([d[:, [0, 1, 3]] for d in predictions.detections], truths, split.spacing_mm)
    reported = (matched.det_score >= operating_logit) & ~matched.det_tp & ~matched.det_ignored
    found = matched.nod_score >= operating_logit

    def statistic(cases: np.ndarray) -> dict[str, float]:
        values = detection_metrics(matched, cases)
        counts = np.bincount(cases, minlength=len(split))
        nodules = counts[matched.nod_case]
        return {"sens@0.5": values["sens@0.5"], "cpm": values["cpm"],
                "operating_sensitivity": float((nodules * found).sum() / max(nodules.sum(), 1)),
                "operating_fp_per_image": float((counts[matched.det_case] * reported).sum() / len(cases))}

    point = statistic(np.arange(len(split)))
    return {**point, "ci95": bootstrap(statistic, len(split), n_boot)}


def wilson(successes: int, n: int, z: float = 1.959964) -> list[float]:
    """Wilson 95% interval of a proportion ``successes / n``."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def auroc_with_ci(inside: np.ndarray, outside: np.ndarray, n_boot: int, seed: int = 0) -> dict:
    """AUROC of the domain score (outside = positive) and a 95% CI resampling both sets."""
    rng = np.random.default_rng(seed)
    samples = [domain_auroc(rng.choice(inside, len(inside)), rng.choice(outside, len(outside)))
               for _ in range(n_boot)]
    return {"auroc_vs_test": domain_auroc(inside, outside),
            "auroc_ci95": [float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))]}


def radiograph_pixels(array: np.ndarray) -> np.ndarray | None:
    """The 2D image the domain evaluation feeds: a 2D array, or the middle slice of a 3D stack; None for
    colour (a trailing channel axis) and images under 8 pixels a side."""
    if array.ndim == 3:
        array = array[array.shape[0] // 2]
    if array.ndim != 2 or min(array.shape) < 8:
        return None
    return array


def real_images(plugin: Path, model_size: int) -> Iterator[RealImage]:
    """Every grayscale 2D image (and the middle slice of every grayscale 3D volume) of the public DICOM,
    prepared as ``logic.py`` prepares a radiograph (MONOCHROME1 inverted unless the loader did) and embedded
    by the shipped model."""
    from training.public_dicom import public_images

    forward = onnx_forward(ev.session(str(plugin / "model.onnx")))
    seen: dict[str, int] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for image in public_images():
            meta = image.volume.meta
            if meta.get("photometric") not in GRAYSCALE:
                continue
            pixels = radiograph_pixels(np.asarray(image.volume.array))
            if pixels is None:
                continue
            invert = bool(meta.get("photometric") == "MONOCHROME1" and not meta.get("inverted_monochrome1"))
            prepared = prepare_cxr(pixels, size=model_size, invert=invert)
            embedding = forward(prepared.image[None, None])["embedding"][0]
            name = image.name
            seen[name] = seen.get(name, 0) + 1
            chest = image.path.name.startswith("RG1_") or image.path.name == "cat.dcm"
            yield RealImage(name if seen[name] == 1 else f"{name}#{seen[name]}", image.modality or "?",
                            image.body_part, chest, embedding.astype(np.float32))


def real_summary(real: list[RealImage], real_scores: np.ndarray, test_scores: np.ndarray, threshold: float,
                 n_boot: int) -> dict:
    """AUROC (test vs real) over all real images and over the real chest radiographs, with per-modality
    flagged shares and every chest radiograph's score."""
    chest = np.array([image.chest_radiograph for image in real])
    modalities: dict[str, dict] = {}
    for modality in sorted({image.modality for image in real}):
        rows = np.array([image.modality == modality for image in real])
        modalities[modality] = {"images": int(rows.sum()), "flagged": float(np.mean(real_scores[rows] > threshold)),
                                "score_min": float(real_scores[rows].min())}
    lowest = np.argsort(real_scores)[:5]
    return {
        "images": len(real), "flagged": float(np.mean(real_scores > threshold)),
        **auroc_with_ci(test_scores, real_scores, n_boot),
        "by_modality": modalities,
        "lowest": [{"name": real[i].name, "modality": real[i].modality, "score": float(real_scores[i])}
                   for i in lowest],
        "chest_radiographs": {
            "images": int(chest.sum()), "flagged": float(np.mean(real_scores[chest] > threshold)),
            **auroc_with_ci(test_scores, real_scores[chest], n_boot),
            "cases": [{"name": image.name, "modality": image.modality, "body_part": image.body_part,
                       "score": float(score)} for image, score in zip(real, real_scores, strict=True)
                      if image.chest_radiograph],
        },
    }


def write_facts(plugin: Path, domain: dict) -> None:
    """metrics.json with ``"domain"`` replaced (every other key kept, atomic write) and the card regenerated."""
    write_model_card(plugin / "MODEL_CARD.md", record_domain_metrics(plugin, domain))


if __name__ == "__main__":
    raise SystemExit(main())
