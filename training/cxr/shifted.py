"""Shifted held-out chest radiographs: phantoms rendered or processed outside the training ranges.

Each named shift draws its own seeds (700 000-749 999: disjoint from train 0-1199, validation 500 000+,
test 900 000+ and the samples' 1 000 000+) and changes one family of acquisition parameters that the
training renders never had (the model card's "shifted set next to the in-distribution one"):

- ``detector``: 0.5 mm pixels on a 1024 x 860 portrait detector (a 512 x 430 mm field); training renders
  are 0.2-0.4 mm pixels on a square 410 mm field.
- ``processing``: vendor image processing on the stored values: unsharp masking (sigma 3 mm, amount 1-2)
  and a gamma of 0.45-0.65 or 1.6-2.2 (the phantoms are linear in attenuation).
- ``noise``: quantum noise SD 80-150 stored units (training 12-30).
- ``low_contrast``: every nodule painted at about 40% of its contrast (0.03-0.16; training 0.08-0.4).
- ``positioning``: rotated 10-20 degrees and magnified 1.15-1.3 about the image centre, the geometry of a
  rotated bedside AP film (training augmentation: +-5 degrees, +-8% scale).

``CONTROL`` renders its own seeds with no shift at all, the baseline the shifted sets are read against.

The anatomy (and the nodules' ground truth) is the generator's; the shift parameters come from their own
random stream per seed, so a case is the same on every machine. Cases are prepared by the serving
preprocessing and cached like the phantom splits (``training.cxr.phantom_dataset``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from engine.atomic import atomic_write_bytes
from engine.preprocessing.cxr import MODEL_SIZE, prepare_cxr
from training.cxr.acquisition import fade_nodule, vendor_processing
from training.cxr.phantom_dataset import NODULE_FIELDS, PhantomSet, load_split
from training.phantoms.chest_xray import make_chest_xray

CACHE_VERSION = 1
SEED_RANGE = (700_000, 750_000)  # every shift's seeds lie here


@dataclass(frozen=True)
class Shift:
    """One named shift: seeds, render size / pixel spacing and the processing applied after rendering."""

    name: str
    first_seed: int
    count: int
    description: str
    size: int = 1024
    spacing_mm: float | None = None  # None: the generator's 409.6 mm field
    keep_columns: float = 1.0  # central fraction of the columns kept (portrait detector)
    processing: bool = False
    noise_sd: tuple[float, float] | None = None
    nodule_contrast: float = 1.0  # fraction of each nodule's contrast kept
    positioning: bool = False

    @property
    def seeds(self) -> range:
        return range(self.first_seed, self.first_seed + self.count)

    def with_count(self, count: int) -> Shift:
        return Shift(**{**self.__dict__, "count": count})

    @property
    def key(self) -> str:
        return f"shift-{self.name}-s{self.first_seed}-n{self.count}-r{self.size}-v{CACHE_VERSION}"


SHIFTS = {
    "detector": Shift("detector", 700_000, 80, "0.5 mm pixels, 1024 x 860 portrait detector (512 x 430 mm field)",
                      spacing_mm=0.5, keep_columns=0.84),
    "processing": Shift("processing", 710_000, 80, "vendor processing: unsharp masking (3 mm, amount 1-2), "
                        "gamma 0.45-0.65 or 1.6-2.2", processing=True),
    "noise": Shift("noise", 720_000, 80, "quantum noise SD 80-150 (training 12-30)", noise_sd=(80.0, 150.0)),
    "low_contrast": Shift("low_contrast", 730_000, 80, "nodules at ~40% of their contrast (0.03-0.16)",
                          nodule_contrast=0.4),
    "positioning": Shift("positioning", 740_000, 80, "rotated 10-20 deg, magnified 1.15-1.3 (bedside AP-like)",
                         positioning=True),
}

# The same generator path with nothing shifted (1024 px, 0.4 mm: the reference's own renders), for comparison:
# the test split is rendered at 2048 px, so a set without any shift does not score exactly like it either.
CONTROL = Shift("control", 745_000, 80, "no shift: rendered at 1024 px (0.4 mm) like the reference")


@dataclass
class ShiftedCase:
    """A shifted radiograph (float32 stored values), its nodules (row, col, diameter_px, diameter_mm in the
    image as shown) and the pixel spacing (mm)."""

    image: np.ndarray
    nodules: np.ndarray  # (k, 4)
    spacing_mm: float


def render_shifted(shift: Shift, seed: int) -> ShiftedCase:
    """The case of ``seed`` under ``shift`` (deterministic per seed)."""
    if not SEED_RANGE[0] <= seed < SEED_RANGE[1]:
        raise ValueError(f"shifted seeds lie in {SEED_RANGE}, got {seed}")
    rng = np.random.default_rng([seed, 2002])
    case = make_chest_xray(seed, size=shift.size, spacing_mm=shift.spacing_mm)
    spacing = float(case.geometry.spacing[0])
    image = case.image.astype(np.float32)
    nodules = np.array([[*n.centre_px, n.diameter_mm / spacing, n.diameter_mm] for n in case.nodules]).reshape(-1, 4)
    if shift.nodule_contrast != 1.0:
        for n in case.nodules:
            faded = n.contrast_pixel * (1 - shift.nodule_contrast)
            fade_nodule(image, n.centre_px, n.diameter_mm / 2 / spacing, faded, spacing)
    if shift.noise_sd is not None:
        image += rng.uniform(*shift.noise_sd) * rng.standard_normal(image.shape).astype(np.float32)
    if shift.processing:
        image = vendor_processing(image, spacing, amount=rng.uniform(1.0, 2.0),
                                  gamma=rng.uniform(0.45, 0.65) if rng.random() < 0.5 else rng.uniform(1.6, 2.2))
    if shift.positioning:
        angle = rng.choice([-1.0, 1.0]) * rng.uniform(10.0, 20.0)
        image, nodules = reposition(image, nodules, angle, rng.uniform(1.15, 1.3))
    if shift.keep_columns < 1.0:
        width = int(round(image.shape[1] * shift.keep_columns))
        first = (image.shape[1] - width) // 2
        image = image[:, first:first + width]
        nodules = nodules - np.array([0.0, first, 0.0, 0.0])
        nodules = nodules[(nodules[:, 1] >= 0) & (nodules[:, 1] < width)]
    return ShiftedCase(np.clip(np.rint(image), 0, 4095).astype(np.float32), nodules, spacing)


def reposition(image: np.ndarray, nodules: np.ndarray, angle_deg: float, zoom: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by ``angle_deg`` and magnify by ``zoom`` about the image centre; nodules move with the image
    (those leaving the image are dropped), their apparent diameters grow by ``zoom``."""
    theta = np.deg2rad(angle_deg)
    forward = zoom * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    centre = (np.asarray(image.shape, dtype=np.float64) - 1) / 2
    inverse = np.linalg.inv(forward)
    moved = ndimage.affine_transform(image, inverse, offset=centre - inverse @ centre, order=1, mode="nearest")
    rows = nodules.copy()
    rows[:, :2] = (nodules[:, :2] - centre) @ forward.T + centre
    rows[:, 2:] *= zoom
    inside = np.all((rows[:, :2] >= rows[:, 2:3] / 2) & (rows[:, :2] < np.asarray(image.shape) - rows[:, 2:3] / 2),
                    axis=1)
    return moved.astype(np.float32), rows[inside]


def prepare_shifted(shift: Shift, seed: int, model_size: int = MODEL_SIZE
                    ) -> tuple[np.ndarray, list[tuple], float]:
    """The model-grid image (float16), nodule rows (row, col, diameter_px, diameter_mm, over_rib=nan) and
    the model-grid pixel size of one shifted case."""
    case = render_shifted(shift, seed)
    prepared = prepare_cxr(case.image, size=model_size)
    rows = [(*prepared.to_model(n[:2]), n[2] * prepared.scale, n[3], float("nan")) for n in case.nodules]
    return prepared.image.astype(np.float16), rows, case.spacing_mm / prepared.scale


def build_shifted(shift: Shift, cache_dir: str | os.PathLike, model_size: int = MODEL_SIZE) -> PhantomSet:
    """Render (or load from the cache) every case of ``shift`` as a PhantomSet (no lung masks)."""
    folder = Path(cache_dir) / f"{shift.key}-m{model_size}"
    if not (folder / "done.json").is_file():
        started = time.monotonic()
        folder.mkdir(parents=True, exist_ok=True)
        images = np.lib.format.open_memmap(folder / "images.npy", "w+", np.float16,
                                           (shift.count, model_size, model_size))
        np.save(folder / "lungs.npy", np.zeros((shift.count, 1, 1), bool))
        table: dict[str, list] = {name: [] for name in NODULE_FIELDS}
        spacing = np.zeros(shift.count)
        for index, seed in enumerate(shift.seeds):
            images[index], rows, spacing[index] = prepare_shifted(shift, seed, model_size)
            for row in rows:
                for name, value in zip(NODULE_FIELDS, (index, *row), strict=True):
                    table[name].append(value)
        images.flush()
        np.savez(folder / "nodules.npz", seeds=np.asarray(shift.seeds), spacing_mm=spacing,
                 **{name: np.asarray(values, dtype=np.float64) for name, values in table.items()})
        record = {**shift.__dict__, "seconds": time.monotonic() - started}
        atomic_write_bytes(folder / "done.json", json.dumps(record, default=list).encode())
    return load_split(folder)
