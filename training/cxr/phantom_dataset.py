"""Phantom chest radiographs by seed range, prepared with the serving preprocessing and cached as .npy.

Each split renders ``make_chest_xray(seed, size=render_size)`` for its seeds, runs the very
``engine.preprocessing.cxr.prepare_cxr`` the plugin runs, and caches the model-grid images (float16,
memory-mapped), lung masks and nodule ground truth (model-grid pixels) under ``cache_dir``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.preprocessing.cxr import MODEL_SIZE, prepare_cxr, resize_to_grid
from training.cxr.variety import VARIETY_VERSION, apply_variety, draw_variety
from training.phantoms.chest_xray import make_chest_xray

CACHE_VERSION = 1


@dataclass(frozen=True)
class SplitSpec:
    """A named, disjoint seed range and the phantom resolution it is rendered at."""

    name: str
    first_seed: int
    count: int
    render_size: int
    model_size: int = MODEL_SIZE
    variety: bool = False  # acquisition variety on each case (training.cxr.variety): the training split only

    @property
    def seeds(self) -> range:
        return range(self.first_seed, self.first_seed + self.count)

    @property
    def key(self) -> str:
        key = f"{self.name}-s{self.first_seed}-n{self.count}-r{self.render_size}-m{self.model_size}-v{CACHE_VERSION}"
        return f"{key}-variety{VARIETY_VERSION}" if self.variety else key

    @property
    def plain(self) -> SplitSpec:
        """The same seeds rendered without acquisition variety (the generator's own images)."""
        return dataclasses.replace(self, variety=False)


# The shipped model's splits: training never sees a validation or test seed.
SPLITS = {
    "train": SplitSpec("train", 0, 1200, 1024, variety=True),
    "val": SplitSpec("val", 500_000, 250, 2048),
    "test": SplitSpec("test", 900_000, 250, 2048),
}

NODULE_FIELDS = ("case", "row", "col", "diameter_px", "diameter_mm", "over_rib")


@dataclass
class PhantomSet:
    """Model-grid images (n, S, S) float16, lung masks (n, S, S) bool, nodules (one row each), seeds."""

    images: np.ndarray
    lungs: np.ndarray
    nodules: dict[str, np.ndarray]
    seeds: np.ndarray
    spacing_mm: np.ndarray  # model-grid pixel size per case

    def __len__(self) -> int:
        return len(self.seeds)

    def case_nodules(self, index: int) -> np.ndarray:
        """(k, 3) rows (row, col, diameter_px) of case ``index``."""
        rows = self.nodules["case"] == index
        return np.stack([self.nodules["row"][rows], self.nodules["col"][rows],
                         self.nodules["diameter_px"][rows]], axis=1)

    @property
    def positive(self) -> np.ndarray:
        """Image-level labels: 1 where the case has at least one nodule."""
        return np.isin(np.arange(len(self)), self.nodules["case"]).astype(np.int64)


def render_case(seed: int, render_size: int, model_size: int = MODEL_SIZE, variety: bool = False
                ) -> tuple[np.ndarray, np.ndarray, list[tuple], float]:
    """One prepared phantom: image (float16), lung mask, nodule rows, model-grid pixel size (mm);
    ``variety`` applies the seed's acquisition variety (``training.cxr.variety``) before preparing it."""
    case = make_chest_xray(seed, size=render_size)
    stored = apply_variety(case, draw_variety(seed)) if variety else case.image
    prepared = prepare_cxr(stored, size=model_size)
    spacing = case.geometry.spacing[0] / prepared.scale
    lungs = resize_to_grid(case.lung_mask.astype(np.float32), prepared.scale) > 0.5
    rows = []
    for nodule in case.nodules:
        row, col = prepared.to_model(np.array(nodule.centre_px))
        rows.append((row, col, nodule.diameter_mm / spacing, nodule.diameter_mm, float(nodule.over_rib)))
    return prepared.image.astype(np.float16), lungs, rows, spacing


def build_split(spec: SplitSpec, cache_dir: str | os.PathLike, workers: int = 1) -> PhantomSet:
    """Render (or load from the cache) every case of ``spec``."""
    folder = Path(cache_dir) / spec.key
    if not (folder / "done.json").is_file():
        _render_split(spec, folder, workers)
    return load_split(folder)


def render_seconds(spec: SplitSpec, cache_dir: str | os.PathLike) -> float:
    """Wall-clock seconds the cached split took to render (0 if not recorded)."""
    done = Path(cache_dir) / spec.key / "done.json"
    return float(json.loads(done.read_text()).get("seconds", 0.0)) if done.is_file() else 0.0


def _render_split(spec: SplitSpec, folder: Path, workers: int) -> None:
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    shape = (spec.count, spec.model_size, spec.model_size)
    images = np.lib.format.open_memmap(folder / "images.npy", "w+", np.float16, shape)
    lungs = np.lib.format.open_memmap(folder / "lungs.npy", "w+", np.bool_, shape)
    table: dict[str, list] = {name: [] for name in NODULE_FIELDS}
    spacing = np.zeros(spec.count)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(render_case, spec.seeds, [spec.render_size] * spec.count,
                           [spec.model_size] * spec.count, [spec.variety] * spec.count, chunksize=8)
        for index, (image, lung, rows, pixel_mm) in enumerate(results):
            images[index], lungs[index], spacing[index] = image, lung, pixel_mm
            for row in rows:
                for name, value in zip(NODULE_FIELDS, (index, *row), strict=True):
                    table[name].append(value)
            if (index + 1) % 100 == 0:
                print(f"[data] {spec.name}: {index + 1}/{spec.count} cases", flush=True)
    images.flush()
    lungs.flush()
    np.savez(folder / "nodules.npz", seeds=np.asarray(spec.seeds), spacing_mm=spacing,
             **{name: np.asarray(values, dtype=np.float64) for name, values in table.items()})
    record = {**spec.__dict__, "seconds": time.monotonic() - started, "workers": workers}
    atomic_write_bytes(folder / "done.json", json.dumps(record).encode())


def load_split(folder: str | os.PathLike) -> PhantomSet:
    """A cached split (images and masks memory-mapped)."""
    folder = Path(folder)
    with np.load(folder / "nodules.npz") as data:
        nodules = {name: data[name] for name in NODULE_FIELDS}
        nodules["case"] = nodules["case"].astype(np.int64)
        seeds, spacing = data["seeds"], data["spacing_mm"]
    return PhantomSet(images=np.load(folder / "images.npy", mmap_mode="r"),
                      lungs=np.load(folder / "lungs.npy", mmap_mode="r"),
                      nodules=nodules, seeds=seeds, spacing_mm=spacing)


