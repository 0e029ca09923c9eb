"""Phantom splits (disjoint seed ranges) rendered on the fly through the plugin's shared preprocessing, cached.

Each case: ``make_brain_mri(seed, shape)`` (shape cycles through ``shapes`` by seed, so the model sees
1.33-2 mm sources), optionally the new-site shift, then ``plugins.brain_tumor_mri.preprocessing.prepare_brain`` (the
function the plugin runs) -> float16 image (4, z, y, x) on the 2 mm model grid, and the WT/TC/ET target
regions resampled onto that grid (anti-aliased, >= 0.5). Cached as ``<cache>/<split>/<seed>.npz``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write
from engine.geometry import Geometry
from plugins.brain_tumor_mri.preprocessing import SEQUENCES, PreparedBrain, prepare_brain, regions_from_labels, resample
from training.brain.site_shift import SiteShift
from training.phantoms.brain_mri import BrainMriCase, make_brain_mri

TRAIN_SHAPES = ((80, 96, 80), (100, 120, 100), (120, 144, 120))
# Part of the cache folder's name: raise it when the phantom or the preprocessing changes, so that a cache
# from an earlier version is rendered anew rather than reused (2: bounded oedema, noise-floor head mask).
RENDER_VERSION = 2


@dataclass(frozen=True)
class SplitSpec:
    """A split: seeds ``first_seed .. first_seed + count - 1``, source shapes cycled by seed, site shift."""

    name: str
    first_seed: int
    count: int
    shapes: tuple[tuple[int, int, int], ...] = TRAIN_SHAPES
    new_site: bool = False

    @property
    def seeds(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.count))

    def shape(self, seed: int) -> tuple[int, int, int]:
        return self.shapes[seed % len(self.shapes)]


SPLITS = {
    "train": SplitSpec("train", 0, 96),
    "val": SplitSpec("val", 100_000, 12, ((100, 120, 100),)),
    "test": SplitSpec("test", 200_000, 40, ((120, 144, 120),)),
    "site_train": SplitSpec("site_train", 300_000, 50, new_site=True),
    "site_test": SplitSpec("site_test", 400_000, 20, ((100, 120, 100),), new_site=True),
}


@dataclass
class RenderedCase:
    """One case from source to model grid: the phantom, its preprocessing and the model-grid targets."""

    seed: int
    case: BrainMriCase
    prepared: PreparedBrain
    targets: np.ndarray = field(repr=False)  # bool (3, z, y, x) on prepared.grid


def render(seed: int, shape: tuple[int, int, int], new_site: bool = False) -> RenderedCase:
    """Render phantom ``seed`` on ``shape`` (shifted to the new site if asked) and preprocess it."""
    case = make_brain_mri(seed, shape)
    if new_site:
        case.sequences = SiteShift().apply(case.sequences, seed)
    prepared = prepare_brain({name: case.volume(name) for name in SEQUENCES})
    return RenderedCase(seed, case, prepared, targets_on_grid(case.labels, case.geometry, prepared.grid))


def targets_on_grid(labels: np.ndarray, source: Geometry, grid: Geometry) -> np.ndarray:
    """Bool WT/TC/ET regions of source-grid BraTS ``labels`` on the model ``grid`` (anti-aliased, >= 0.5)."""
    regions = regions_from_labels(labels).astype(np.float32)
    return np.stack([resample(r, source, grid) >= 0.5 for r in regions])


def render_spec(spec: SplitSpec, seed: int) -> RenderedCase:
    return render(seed, spec.shape(seed), spec.new_site)


@dataclass
class CachedSplit:
    """Model-grid images (float16) and targets (bool) of a split, in seed order."""

    spec: SplitSpec
    images: list[np.ndarray]
    targets: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.images)


def build_split(spec: SplitSpec, cache: str | os.PathLike,
                log: Callable[[str], None] = print) -> CachedSplit:
    """Render (or read from ``cache``) every case of ``spec``."""
    folder = Path(cache) / f"{spec.name}-v{RENDER_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    images, targets = [], []
    for index, seed in enumerate(spec.seeds):
        path = folder / f"{seed}.npz"
        if not path.is_file():
            rendered = render_spec(spec, seed)
            with atomic_write(path) as handle:
                np.savez(handle, image=rendered.prepared.image.astype(np.float16), targets=rendered.targets)
        with np.load(path) as data:
            images.append(data["image"])
            targets.append(data["targets"].astype(bool))
        if (index + 1) % 20 == 0 or index + 1 == spec.count:
            log(f"[data] {spec.name}: {index + 1}/{spec.count} cases")
    return CachedSplit(spec, images, targets)
