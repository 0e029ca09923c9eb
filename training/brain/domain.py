"""Domain (out-of-distribution) check of the brain-tumour plugin: fit it, then measure it.

    python -m training.brain.domain --work build/brain --plugin plugins/brain_tumor_mri

Features: the segmenter's own bottleneck (deepest encoder block, 64 channels at 1/8 resolution), exposed
as a second ONNX output ``features`` (global average pool per tile, added to the graph here; the
``logits`` output stays bit-identical, checked on a fixed input) and pooled over the sliding window by
each tile's head fraction (``plugins/brain_tumor_mri/domain_features.py``, the code the plugin runs).

Fit (``training.domain_fit.fit_domain``): reference = the training split (96 phantoms); threshold = 95%
retention of the validation split plus a larger disjoint "domain validation" seed range (the validation
split has only 12 cases). Measured afterwards, never used for the fit: the flagged share of the held-out
test split, and the AUROC of the score for test vs shifted phantoms (new-site contrast + bias + noise,
strong bias field + noise only, other field-strength contrast only, 5 mm slices) and vs the real public
MR images of ``training.public_dicom`` (a real series is not a four-sequence study: the same volume is
fed as all four roles; single-slice images are repeated to 4 slices, the least the preprocessing's
anti-aliasing takes). The numbers go to metrics.json ("domain") and MODEL_CARD.md ("Domain check").
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import SimpleITK as sitk
from onnx import helper

from engine.ai.domain import knn_distances
from engine.ai.manifest import load_manifest
from engine.ai.tiling import sliding_window
from engine.atomic import atomic_write_bytes
from engine.geometry import Geometry
from engine.volume import Volume
from plugins.brain_tumor_mri.domain_features import FEATURES_OUTPUT, PooledFeatures
from plugins.brain_tumor_mri.preprocessing import SEQUENCES, prepare_brain, resample
from training.brain.data import SPLITS, SplitSpec, build_split
from training.brain.export import INPUT, OUTPUT, session
from training.brain.plugin_files import OVERLAP, WINDOW, write_manifest
from training.brain.site_shift import SiteShift
from training.domain_fit import domain_auroc, fit_domain, record_domain_metrics
from training.phantoms.brain_mri import make_brain_mri

DOMAIN_VAL = SplitSpec("domain_val", 500_000, 40)  # disjoint from every split in metrics.json
FEATURES = "log segmenter bottleneck (64 channels), pooled per tile, head-fraction-weighted over tiles"
SMOKE_DOMAIN_VAL = SplitSpec("domain_val", 500_000, 2, ((80, 96, 80),))
THICK_MM = 5.0


@dataclasses.dataclass(frozen=True)
class ShiftedSet:
    """A shifted phantom set: seeds, source shape, site transform and/or thick slices."""

    name: str
    description: str
    first_seed: int
    count: int
    shape: tuple[int, int, int] = (100, 120, 100)
    shift: SiteShift | None = None
    thick: bool = False

    @property
    def seeds(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.count))


SHIFTED = (
    ShiftedSet("strong bias field + noise", "phantom contrast, bias-field log-amplitude 0.6, Rician noise 0.10",
               600_000, 15, shift=SiteShift(gamma={}, bias_strength=0.6, noise_sigma=0.10)),
    ShiftedSet("other field-strength contrast", "gamma per sequence of the new site only (no extra bias or "
               "noise)", 700_000, 15, shift=SiteShift(bias_strength=0.0, noise_sigma=0.0)),
    ShiftedSet("5 mm slices", "1.33 mm phantom averaged into 5 mm axial slices (in-plane 1.33 mm)", 800_000, 15,
               shape=(120, 144, 120), thick=True),
)


def add_feature_output(model: str | Path) -> bool:
    """Give the segmenter ``model`` (in place) the output ``features`` (b, c): the global average of the
    bottleneck (the tensor the decoder's first Resize upsamples). False if it already has it."""
    path = Path(model)
    graph_model = onnx.load(str(path))
    graph = graph_model.graph
    if any(output.name == FEATURES_OUTPUT for output in graph.output):
        return False
    resize = next(node for node in graph.node if node.op_type == "Resize")
    bottleneck = resize.input[0]
    graph.node.extend([
        helper.make_node("GlobalAveragePool", [bottleneck], ["/features/pooled"], name="/features/GlobalAveragePool"),
        helper.make_node("Flatten", ["/features/pooled"], [FEATURES_OUTPUT], name="/features/Flatten", axis=1),
    ])
    graph.output.append(helper.make_tensor_value_info(FEATURES_OUTPUT, onnx.TensorProto.FLOAT, ["batch", None]))
    onnx.checker.check_model(graph_model)
    atomic_write_bytes(path, graph_model.SerializeToString())
    return True


def logits_identical(before: str | Path, after: str | Path, seed: int = 0) -> bool:
    """True when both models give bit-identical ``logits`` on a fixed random input (2, 4, 64, 64, 64)."""
    tiles = np.random.default_rng(seed).standard_normal((2, 4, *WINDOW)).astype(np.float32)
    first = session(before).run([OUTPUT], {INPUT: tiles})[0]
    second = session(after).run([OUTPUT], {INPUT: tiles})[0]
    return bool(np.array_equal(first, second))


class FeatureExtractor:
    """Pooled bottleneck features of model-grid images, through the plugin's sliding window."""

    def __init__(self, model: str | Path) -> None:
        self._session = session(model)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        pooled = PooledFeatures()

        def predictor(tiles: np.ndarray) -> np.ndarray:
            batch = np.ascontiguousarray(tiles, dtype=np.float32)
            logits, features = self._session.run([OUTPUT, FEATURES_OUTPUT], {INPUT: batch})
            pooled.add(batch, features)
            return logits

        sliding_window(np.asarray(image, dtype=np.float32), WINDOW, predictor, overlap=OVERLAP)
        vector = pooled.vector()
        if vector is None:
            raise ValueError("no tile touched the head")
        return vector

    def of_volumes(self, volumes: dict[str, Volume]) -> np.ndarray:
        return self(prepare_brain(volumes).image)


def shifted_volumes(spec: ShiftedSet, seed: int) -> dict[str, Volume]:
    """The four sequences of one shifted phantom."""
    case = make_brain_mri(seed, spec.shape)
    if spec.shift is not None:
        case.sequences = spec.shift.apply(case.sequences, seed)
    volumes = {name: case.volume(name) for name in SEQUENCES}
    if spec.thick:
        volumes = {name: thick_slices(volume, THICK_MM) for name, volume in volumes.items()}
    return volumes


def thick_slices(volume: Volume, thickness_mm: float) -> Volume:
    """``volume`` re-sliced into ``thickness_mm`` axial slices (anti-aliased: slab averages), same in-plane grid."""
    geometry = volume.geometry
    nz = max(1, int(round(geometry.shape[0] * geometry.spacing[2] / thickness_mm)))
    spacing = (geometry.spacing[0], geometry.spacing[1], thickness_mm)
    origin = np.asarray(geometry.origin) + geometry.direction @ np.array([0.0, 0.0, (thickness_mm - geometry.spacing[2])
                                                                          / 2.0])
    target = Geometry((nz, *geometry.shape[1:]), spacing, tuple(origin), geometry.direction)
    array = np.rint(resample(volume.array, geometry, target)).astype(np.uint16)
    return Volume(array, target, volume.modality, volume.ids, volume.meta)


def real_mr_volumes(log: Callable[[str], None] = print) -> list[tuple[str, Volume]]:
    """Distinct real MR images of the public corpus (identical pixel arrays once; thumbnails under 32 px
    left out), single-slice ones repeated to 4 slices."""
    from training.public_dicom import public_images

    seen, out = set(), []
    for image in public_images({"MR"}):
        array = np.asarray(image.volume.array)
        if array.ndim != 3 or min(array.shape[1:]) < 32:
            continue
        digest = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        out.append((image.name, as_slab(image.volume)))
    log(f"[domain] {len(out)} distinct real MR images")
    return out


def as_slab(volume: Volume, min_slices: int = 4) -> Volume:
    """``volume`` with its slices repeated (in order) until it has at least ``min_slices``."""
    array = np.asarray(volume.array)
    if array.shape[0] >= min_slices:
        return volume
    repeats = int(np.ceil(min_slices / array.shape[0]))
    array = np.repeat(array, repeats, axis=0)
    geometry = volume.geometry
    target = Geometry(array.shape, geometry.spacing, geometry.origin, geometry.direction)
    return Volume(array, target, volume.modality, volume.ids, volume.meta)


def fit_and_measure(plugin: str | Path, cache: str | Path, specs: dict[str, SplitSpec] | None = None,
                    domain_val: SplitSpec = DOMAIN_VAL, shifted: tuple[ShiftedSet, ...] = SHIFTED,
                    real: bool = True, log: Callable[[str], None] = print) -> dict:
    """Fit the domain check of ``plugin`` (model with the features output) and measure it; the facts."""
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    specs = specs or SPLITS
    folder = Path(plugin)
    extract = FeatureExtractor(folder / "model.onnx")
    clock = time.monotonic()

    def split_features(spec: SplitSpec) -> np.ndarray:
        return np.stack([extract(image) for image in build_split(spec, cache, log).images])

    reference = split_features(specs["train"])
    validation_specs = [specs["val"], domain_val]
    validation = np.concatenate([split_features(spec) for spec in validation_specs])
    fit = fit_domain(folder, reference, validation, k=5, features=FEATURES)
    log(f"[domain] threshold {fit.threshold:.6f}, validation retained {fit.validation_retained:.3f}")
    test_scores = knn_distances(split_features(specs["test"]), reference, fit.k)

    def outside(name: str, description: str, seeds: list[int], features: np.ndarray) -> dict:
        scores = knn_distances(features, reference, fit.k)
        row = {"name": name, "description": description, "seeds": [seeds[0], seeds[-1]] if seeds else [],
               "cases": len(scores), "auroc": domain_auroc(test_scores, scores),
               "flagged": float(np.mean(scores > fit.threshold)), "median_score": float(np.median(scores))}
        log(f"[domain] {name}: AUROC {row['auroc']:.3f}, flagged {row['flagged']:.2f} (n={row['cases']})")
        return row

    site = specs["site_test"]
    rows = [outside("new site", f"site_test split: {SiteShift().describe()}", site.seeds, split_features(site))]
    for spec in shifted:
        features = np.stack([extract.of_volumes(shifted_volumes(spec, seed)) for seed in spec.seeds])
        rows.append(outside(spec.name, spec.description, spec.seeds, features))
    real_row = None
    if real:
        images = real_mr_volumes(log)
        features = np.stack([extract.of_volumes({name: volume for name in SEQUENCES}) for _, volume in images])
        real_row = outside("real public MR", "pydicom / pydicom-data MR images (head, abdomen, small test "
                           "images), the same volume fed as T1, T1c, T2 and FLAIR", [], features)
        real_row["images"] = [name for name, _ in images]
    facts = {
        "method": "knn_cosine",
        "features": FEATURES,
        "k": fit.k,
        "retention": 0.95,
        "threshold": round(fit.threshold, 6),
        "reference": {"split": specs["train"].name, "cases": fit.reference_cases, "sha256": fit.sha256},
        "validation": {"splits": [{"name": s.name, "seeds": [s.seeds[0], s.seeds[-1]], "cases": s.count}
                                  for s in validation_specs],
                       "cases": int(len(validation)), "retained": fit.validation_retained},
        "test": {"split": specs["test"].name, "cases": int(len(test_scores)),
                 "flagged": float(np.mean(test_scores > fit.threshold)),
                 "median_score": float(np.median(test_scores))},
        "shifted": rows,
        "real": real_row,
        "seconds": time.monotonic() - clock,
    }
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/brain", help="phantom caches (shared with the pipeline)")
    parser.add_argument("--plugin", default="plugins/brain_tumor_mri")
    parser.add_argument("--smoke", action="store_true", help="a few cases per set (pipeline check only)")
    args = parser.parse_args(argv)
    folder = Path(args.plugin)
    prepare_plugin(folder)
    if args.smoke:
        from training.brain.pipeline import SMOKE_SPLITS

        facts = fit_and_measure(folder, Path(args.work) / "cache", SMOKE_SPLITS, SMOKE_DOMAIN_VAL,
                                tuple(dataclasses.replace(s, count=2) for s in SHIFTED), real=True)
    else:
        facts = fit_and_measure(folder, Path(args.work) / "cache")
    update_metrics(folder, facts)
    print(json.dumps({k: v for k, v in facts.items() if k not in ("shifted", "real")}, indent=1, default=float))
    return 0


def prepare_plugin(folder: Path) -> None:
    """Give the shipped model its features output and regenerate the manifest from the current one's values
    (new model hash, suitability and plausibility tables)."""
    with_feature_output(folder / "model.onnx")
    manifest = load_manifest(folder / "manifest.toml")
    write_manifest(folder, manifest.model("segmenter").path, manifest.calibration.temperature, manifest.version,
                   manifest.training_data)
    if "component_calibration" in manifest.preprocessing:  # fitted by training/brain/honest.py: kept
        from plugins.brain_tumor_mri.findings import ComponentCalibration
        from training.brain.honest import set_component_calibration

        set_component_calibration(folder / "manifest.toml",
                                  ComponentCalibration.from_settings(manifest.preprocessing["component_calibration"]))


def with_feature_output(model: Path) -> None:
    """:func:`add_feature_output` in place, checking that the logits stay bit-identical (else restored)."""
    with tempfile.TemporaryDirectory() as scratch:
        before = Path(scratch) / "model.onnx"
        before.write_bytes(model.read_bytes())
        if add_feature_output(model) and not logits_identical(before, model):
            atomic_write_bytes(model, before.read_bytes())
            raise RuntimeError(f"{model}: adding the features output changed the logits (model restored)")


def update_metrics(folder: Path, facts: dict) -> None:
    """metrics.json with "domain" set (every other key kept) and MODEL_CARD.md regenerated from it."""
    from training.brain.model_card import write_model_card

    write_model_card(folder / "MODEL_CARD.md", record_domain_metrics(folder, facts))


if __name__ == "__main__":
    raise SystemExit(main())
