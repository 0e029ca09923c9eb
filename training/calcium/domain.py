"""Domain (out-of-distribution) check of the coronary-calcium plugin: fit it, then measure it.

    python -m training.calcium.domain --work build/calcium --plugin plugins/coronary_calcium_ct

Features: image-level (``plugins/coronary_calcium_ct/domain_features.py``, the code the plugin runs): the
body's HU histogram, the noise of homogeneous soft tissue and the blood-pool brightness near the heart.
The lesion classifier cannot supply them: it sees candidate lesions only, and a calcium-free heart has none.

Fit (``training.domain_fit.fit_domain``): reference = the training split (100 phantoms, 512 and 384 px),
threshold = 95% retention of the validation split (24). Measured afterwards, never used for the fit: the
flagged share of the held-out test split (40), and the AUROC of the score for test vs shifted phantoms
(sharper kernel / lower dose, smoother kernel, iodine contrast, calcium-free) and vs the real public CT
images of ``training.public_dicom``. Per-case features are cached under ``<work>/domain_cache/<code hash>``
(rendering a phantom takes seconds). The numbers go to metrics.json ("domain") and MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

import plugins.coronary_calcium_ct.domain_features as domain_features
from engine.ai.domain import knn_distances
from engine.atomic import atomic_write_bytes
from plugins.coronary_calcium_ct.domain_features import ct_domain_features
from training.calcium.phantom_data import SPLITS, SeedRange
from training.domain_fit import domain_auroc, fit_domain, record_domain_metrics
from training.phantoms.cardiac_ct import CardiacCtCase, make_cardiac_ct

FEATURES = "image-level CT features (body HU histogram, soft-tissue noise, blood-pool brightness near the heart)"


def sharper_kernel(case: CardiacCtCase, rng: np.random.Generator) -> np.ndarray:
    """Unfiltered white noise of 35-60 HU on top of the phantom's (sharp kernel / low dose)."""
    return case.hu + rng.normal(0.0, rng.uniform(35.0, 60.0), case.hu.shape).astype(np.float32)


def smoother_kernel(case: CardiacCtCase, rng: np.random.Generator) -> np.ndarray:
    """In-plane Gaussian blur, sigma 1.2-2.0 pixels (soft-tissue kernel / iterative reconstruction)."""
    sigma = rng.uniform(1.2, 2.0)
    return ndimage.gaussian_filter(case.hu.astype(np.float32), (0.0, sigma, sigma))


def contrast_enhanced(case: CardiacCtCase, rng: np.random.Generator) -> np.ndarray:
    """Iodine: +200-350 HU on the soft tissue (0-100 HU after a 3x3 mean) within 70 mm of the heart centre,
    i.e. the heart's blood pool and the aortic root (the phantom does not separate myocardium from blood)."""
    hu = case.hu.astype(np.float32)
    geometry = case.geometry
    cz, cy, cx = geometry.patient_to_voxel(np.asarray(case.heart_centre_lps, dtype=float))
    z, y, x = np.ogrid[: hu.shape[0], : hu.shape[1], : hu.shape[2]]
    sx, sy, sz = geometry.spacing
    near = ((x - cx) * sx) ** 2 + ((y - cy) * sy) ** 2 + ((z - cz) * sz) ** 2 < 70.0**2
    smooth = ndimage.uniform_filter(hu, (1, 3, 3))
    hu[near & (smooth > 0) & (smooth < 100)] += rng.uniform(200.0, 350.0)
    return hu


def calcium_free(case: CardiacCtCase, rng: np.random.Generator) -> np.ndarray:
    """The coronary plaques painted over with blood-pool tissue (40 HU + 15 HU noise): a zero-score heart."""
    hu = case.hu.astype(np.float32)
    plaque = case.labels > 0
    hu[plaque] = 40.0 + rng.normal(0.0, 15.0, int(plaque.sum()))
    return hu


def shift_rng(seed: int) -> np.random.Generator:
    """The stream of a shifted set's transform for phantom ``seed`` (domain features and records alike)."""
    return np.random.default_rng([seed, 4004])


def group_name(name: str) -> str:
    """A shifted set's folder name in the caches."""
    return name.replace(" ", "_").replace("/", "-")


@dataclasses.dataclass(frozen=True)
class ShiftedSet:
    """A shifted phantom set: seeds and the transform of the phantom's HU volume; ``expect_inside`` for a
    set that should stay in the domain (a calcium-free heart is an ordinary calcium-scoring CT)."""

    name: str
    first: int
    count: int
    transform: Callable[[CardiacCtCase, np.random.Generator], np.ndarray]
    expect_inside: bool = False

    @property
    def seeds(self) -> range:
        return range(self.first, self.first + self.count)

    @property
    def description(self) -> str:
        return " ".join((self.transform.__doc__ or "").split()).rstrip(".")


SHIFTED = (
    ShiftedSet("sharper kernel / lower dose", 600_000, 12, sharper_kernel),
    ShiftedSet("smoother kernel", 610_000, 12, smoother_kernel),
    ShiftedSet("contrast-enhanced", 620_000, 12, contrast_enhanced),
    ShiftedSet("calcium-free", 630_000, 12, calcium_free, expect_inside=True),
)
SMOKE_SPLITS = {"train": SeedRange("train", 0, 6, mixed_sizes=True), "val": SeedRange("val", 100_000, 3),
                "test": SeedRange("test", 200_000, 3)}


def code_version(path: str | Path | None = None) -> str:
    """The cache key: first 12 hex digits of the SHA-256 of the feature module's syntax tree without
    docstrings and comments (new code, new features; a reworded docstring keeps the cache)."""
    tree = ast.parse(Path(path or domain_features.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:12]


class FeatureCache:
    """Per-case features under ``<work>/domain_cache/<code version>/<set>/<seed>_<size>.npz`` (with the
    phantom's plaque count)."""

    def __init__(self, work: str | Path, log: Callable[[str], None] = print) -> None:
        self.root = Path(work) / "domain_cache" / code_version()
        self.log = log

    def path(self, group: str, seed: int, size: int) -> Path:
        return self.root / group / f"{seed:06d}_{size}.npz"

    def put(self, group: str, seed: int, size: int, hu: np.ndarray, plaques: int) -> None:
        """Store the features of ``hu`` (a phantom rendered elsewhere, e.g. ``training.calcium.prepare``)."""
        import io

        buffer = io.BytesIO()
        np.savez(buffer, features=ct_domain_features(hu), plaques=plaques)
        atomic_write_bytes(self.path(group, seed, size), buffer.getvalue())

    def get(self, group: str, seed: int, size: int,
            transform: Callable[[CardiacCtCase, np.random.Generator], np.ndarray] | None = None
            ) -> tuple[np.ndarray, int]:
        path = self.path(group, seed, size)
        if not path.is_file():
            case = make_cardiac_ct(seed, size=size)
            self.put(group, seed, size, case.hu if transform is None else transform(case, shift_rng(seed)),
                     len(case.plaques))
        with np.load(path) as data:
            return data["features"], int(data["plaques"])

    def split(self, spec: SeedRange) -> tuple[np.ndarray, list[int]]:
        rows = []
        for index, seed in enumerate(spec.seeds):
            rows.append(self.get(spec.name, seed, spec.size(seed)))
            if (index + 1) % 20 == 0 or index + 1 == spec.count:
                self.log(f"[domain] {spec.name}: {index + 1}/{spec.count}")
        return np.stack([row[0] for row in rows]), [row[1] for row in rows]


def real_ct_images(log: Callable[[str], None] = print) -> list[tuple[str, np.ndarray]]:
    """Distinct real CT images of the public corpus (grey-scale, at least 32 px in-plane; identical pixel
    arrays once)."""
    from training.public_dicom import public_images

    seen, out = set(), []
    for image in public_images({"CT"}):
        array = np.asarray(image.volume.array)
        if image.volume.is_colour or array.ndim != 3 or min(array.shape[1:]) < 32:
            continue
        digest = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append((image.name, array))
    log(f"[domain] {len(out)} distinct real CT images")
    return out


def fit_and_measure(plugin: str | Path, work: str | Path, specs: dict[str, SeedRange] | None = None,
                    shifted: tuple[ShiftedSet, ...] = SHIFTED, real: bool = True,
                    log: Callable[[str], None] = print) -> dict:
    """Fit the domain check of ``plugin`` and measure it; returns the facts for metrics.json."""
    specs = specs or SPLITS
    cache = FeatureCache(work, log)
    clock = time.monotonic()
    reference, train_plaques = cache.split(specs["train"])
    validation, val_plaques = cache.split(specs["val"])
    fit = fit_domain(Path(plugin), reference, validation, k=5, features=FEATURES)
    log(f"[domain] threshold {fit.threshold:.6f}, validation retained {fit.validation_retained:.3f}")
    test, _ = cache.split(specs["test"])
    test_scores = knn_distances(test, reference, fit.k)

    def outside(name: str, description: str, seeds: list[int], features: np.ndarray, expect_inside: bool) -> dict:
        scores = knn_distances(features, reference, fit.k)
        row = {"name": name, "description": description, "seeds": [seeds[0], seeds[-1]] if seeds else [],
               "cases": len(scores), "auroc": domain_auroc(test_scores, scores),
               "flagged": float(np.mean(scores > fit.threshold)), "median_score": float(np.median(scores)),
               "expect_inside": expect_inside}
        log(f"[domain] {name}: AUROC {row['auroc']:.3f}, flagged {row['flagged']:.2f} (n={row['cases']})")
        return row

    rows = []
    for spec in shifted:
        features = np.stack([cache.get(group_name(spec.name), seed, 512, spec.transform)[0]
                             for seed in spec.seeds])
        rows.append(outside(spec.name, spec.description, list(spec.seeds), features, spec.expect_inside))
    real_row = None
    if real:
        images = real_ct_images(log)
        features = np.stack([ct_domain_features(array) for _, array in images])
        real_row = outside("real public CT", "pydicom / pydicom-data / deid-data CT images (head, neck, pancreas, "
                           "perfusion, small test images)", [], features, False)
        real_row["images"] = [name for name, _ in images]
    return {
        "method": "knn_cosine",
        "features": FEATURES,
        "k": fit.k,
        "retention": 0.95,
        "threshold": round(fit.threshold, 6),
        "reference": {"split": specs["train"].name, "cases": fit.reference_cases, "sha256": fit.sha256},
        "validation": {"splits": [{"name": specs["val"].name, "seeds": [specs["val"].first,
                                                                        specs["val"].first + specs["val"].count - 1],
                                   "cases": specs["val"].count}],
                       "cases": int(len(validation)), "retained": fit.validation_retained},
        "test": {"split": specs["test"].name, "cases": int(len(test_scores)),
                 "flagged": float(np.mean(test_scores > fit.threshold)),
                 "median_score": float(np.median(test_scores))},
        "shifted": rows,
        "real": real_row,
        "plaques_per_phantom": {"train_max": max(train_plaques), "validation_max": max(val_plaques)},
        "seconds": time.monotonic() - clock,
    }


def update_metrics(folder: Path, facts: dict) -> None:
    """metrics.json with "domain" set (every other key kept) and MODEL_CARD.md regenerated from it."""
    from training.calcium.model_card import write_model_card

    write_model_card(folder / "MODEL_CARD.md", record_domain_metrics(folder, facts))


def regenerate_manifest(folder: Path) -> None:
    """manifest.toml regenerated from the current one's values (suitability and plausibility tables)."""
    from engine.ai.manifest import load_manifest
    from training.calcium.plugin_files import write_manifest

    manifest = load_manifest(folder / "manifest.toml")
    write_manifest(folder, manifest.model("lesion_classifier").path, manifest.calibration.temperature,
                   manifest.version, manifest.training_data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/calcium", help="feature caches")
    parser.add_argument("--plugin", default="plugins/coronary_calcium_ct")
    parser.add_argument("--smoke", action="store_true", help="a few cases per set (pipeline check only)")
    args = parser.parse_args(argv)
    folder = Path(args.plugin)
    regenerate_manifest(folder)
    if args.smoke:
        facts = fit_and_measure(folder, args.work, SMOKE_SPLITS,
                                tuple(dataclasses.replace(s, count=2) for s in SHIFTED))
    else:
        facts = fit_and_measure(folder, args.work)
    update_metrics(folder, facts)
    print(json.dumps({k: v for k, v in facts.items() if k not in ("shifted", "real")}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
