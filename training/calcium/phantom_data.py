"""Phantom splits generated on the fly from disjoint seed ranges, one cached ``.npz`` record per case.

Train cases alternate 512 and 384 pixel renders (0.4-0.93 mm pixels: resolution variety); validation and
test cases are all 512 x 512 (the calcium-scoring protocol the plugin expects). ``build_augmented`` adds the
kernel / dose variants of ``training.calcium.augment`` (noise, blur) of a split's phantoms, for training and
early stopping only.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from training.calcium import augment
from training.calcium.records import CaseRecord, case_record
from training.phantoms.cardiac_ct import CardiacCtCase, make_cardiac_ct


@dataclass(frozen=True)
class SeedRange:
    """``count`` consecutive seeds from ``first``; ``mixed_sizes`` renders odd seeds at 384 px."""

    name: str
    first: int
    count: int
    mixed_sizes: bool = False

    @property
    def seeds(self) -> range:
        return range(self.first, self.first + self.count)

    def size(self, seed: int) -> int:
        return 384 if self.mixed_sizes and seed % 2 else 512


SPLITS = {
    "train": SeedRange("train", 0, 100, mixed_sizes=True),
    "val": SeedRange("val", 100_000, 24),
    "test": SeedRange("test", 200_000, 40),
}


def phantom_record(seed: int, size: int = 512, case: CardiacCtCase | None = None) -> CaseRecord:
    """The record of phantom ``seed`` rendered at ``size`` pixels (heart centre from the phantom's truth);
    ``case``: that phantom, already rendered."""
    case = case or make_cardiac_ct(seed, size=size)
    return case_record(f"phantom-{seed:06d}", case.hu, case.geometry, case.labels, case.heart_centre_lps)


def load_record(path: str | os.PathLike) -> CaseRecord:
    """A record saved by :func:`save_record`."""
    with np.load(path, allow_pickle=False) as data:
        values = {key: data[key] for key in data.files}
    values["case_id"] = str(values["case_id"])
    return CaseRecord(**values)


def save_record(record: CaseRecord, path: str | os.PathLike) -> None:
    """Write ``record`` as a compressed ``.npz`` atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **record.arrays())
    atomic_write_bytes(Path(path), buffer.getvalue())


def record_path(spec: SeedRange, cache: str | os.PathLike, seed: int) -> Path:
    """Where the record of phantom ``seed`` of split ``spec`` is cached."""
    return Path(cache) / spec.name / f"{seed:06d}_{spec.size(seed)}.npz"


def augmented_paths(spec: SeedRange, cache: str | os.PathLike, seed: int) -> list[Path]:
    """Where the augmented records of phantom ``seed`` are cached (one per ``augment.VARIANTS``; a new
    augmentation needs a new folder name)."""
    folder = Path(cache) / f"{spec.name}-augmented-v1"
    return [folder / f"{seed:06d}_{spec.size(seed)}_{name}.npz" for name in augment.VARIANTS]


def build_split(spec: SeedRange, cache: str | os.PathLike, log: Callable[[str], None] = print
                ) -> list[CaseRecord]:
    """Every record of ``spec``, rendering (and caching) the ones not yet in ``cache``."""
    records = []
    for i, seed in enumerate(spec.seeds):
        path = record_path(spec, cache, seed)
        if not path.is_file():
            save_record(phantom_record(seed, spec.size(seed)), path)
            if i % 10 == 0:
                log(f"[data] {spec.name}: {i + 1}/{spec.count}")
        records.append(load_record(path))
    return records


def augmented_records(seed: int, size: int = 512, case: CardiacCtCase | None = None) -> list[CaseRecord]:
    """The ``augment.VARIANTS`` records of phantom ``seed`` (noise candidates subsampled, own seeded stream);
    ``case``: that phantom, already rendered."""
    case = case or make_cardiac_ct(seed, size=size)
    out = []
    for name in augment.VARIANTS:
        hu = augment.variant(case.hu, name, seed)
        rng = np.random.default_rng([seed, augment.STREAM, 100 + augment.VARIANTS.index(name)])

        def select(candidates, targets, rng=rng):
            keep = augment.background_subset(candidates, targets, case.geometry,
                                             np.asarray(case.heart_centre_lps), rng)
            return augment.subset(candidates, keep)

        out.append(case_record(f"phantom-{seed:06d}-{name}", hu, case.geometry, case.labels,
                               case.heart_centre_lps, select=select))
    return out


def build_augmented(spec: SeedRange, cache: str | os.PathLike, log: Callable[[str], None] = print
                    ) -> list[CaseRecord]:
    """The augmented records of every phantom of ``spec`` (``augmented_records``), cached at
    ``augmented_paths``."""
    records = []
    for i, seed in enumerate(spec.seeds):
        paths = augmented_paths(spec, cache, seed)
        if not all(path.is_file() for path in paths):
            for record, path in zip(augmented_records(seed, spec.size(seed)), paths, strict=True):
                save_record(record, path)
            if i % 10 == 0:
                log(f"[data] {spec.name} augmented: {i + 1}/{spec.count}")
        records.extend(load_record(path) for path in paths)
    return records
