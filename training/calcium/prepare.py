"""Fill the calcium pipeline's caches with one render per phantom, in worker processes.

Rendering a phantom takes seconds, and the pipeline needs each one several times: its record
(``phantom_data.build_split``), its kernel / dose variants (``build_augmented``, train and validation), its
domain features (``domain.FeatureCache``) and, for a shifted set, its transformed record
(``honest.shifted_records``). Each of those steps renders whatever is missing from its cache on its own;
this module renders every phantom once and writes all of its missing cache entries, the same bytes those
steps would write (same functions, same seeded streams), with ``workers`` processes. Progress is printed;
a phantom whose entries all exist is skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from training.calcium.domain import SHIFTED, FeatureCache, ShiftedSet, group_name, shift_rng
from training.calcium.honest import shifted_path
from training.calcium.phantom_data import (
    SeedRange,
    augmented_paths,
    augmented_records,
    phantom_record,
    record_path,
    save_record,
)
from training.calcium.records import case_record
from training.phantoms.cardiac_ct import make_cardiac_ct


@dataclass(frozen=True)
class Job:
    """One phantom: a split's (``split`` set) or a shifted set's (``shifted`` set)."""

    seed: int
    size: int
    split: SeedRange | None = None
    augment: bool = False
    shifted: ShiftedSet | None = None


def _missing(job: Job, work: Path) -> bool:
    cache, features = work / "cache", FeatureCache(work, log=lambda _: None)
    if job.shifted is not None:
        return not (shifted_path(job.shifted, cache, job.seed, job.size).is_file()
                    and features.path(group_name(job.shifted.name), job.seed, job.size).is_file())
    assert job.split is not None
    paths = [record_path(job.split, cache, job.seed), features.path(job.split.name, job.seed, job.size)]
    if job.augment:
        paths += augmented_paths(job.split, cache, job.seed)
    return not all(path.is_file() for path in paths)


def _run(job: Job, work: Path) -> int:
    """Render the phantom of ``job`` once and write its missing cache entries."""
    cache, features = work / "cache", FeatureCache(work, log=lambda _: None)
    case = make_cardiac_ct(job.seed, size=job.size)
    if job.shifted is not None:
        spec = job.shifted
        group = group_name(spec.name)
        record_at = shifted_path(spec, cache, job.seed, job.size)
        if not record_at.is_file():
            hu = spec.transform(case, shift_rng(job.seed))
            save_record(case_record(f"{spec.name}-{job.seed:06d}", hu, case.geometry, case.labels,
                                    case.heart_centre_lps), record_at)
        if not features.path(group, job.seed, job.size).is_file():
            features.put(group, job.seed, job.size, spec.transform(case, shift_rng(job.seed)), len(case.plaques))
        return job.seed
    assert job.split is not None
    if not record_path(job.split, cache, job.seed).is_file():
        save_record(phantom_record(job.seed, job.size, case), record_path(job.split, cache, job.seed))
    if not features.path(job.split.name, job.seed, job.size).is_file():
        features.put(job.split.name, job.seed, job.size, case.hu, len(case.plaques))
    paths = augmented_paths(job.split, cache, job.seed)
    if job.augment and not all(path.is_file() for path in paths):
        for record, path in zip(augmented_records(job.seed, job.size, case), paths, strict=True):
            save_record(record, path)
    return job.seed


def jobs(specs: dict[str, SeedRange], shifted: tuple[ShiftedSet, ...] = SHIFTED,
         augmented: tuple[str, ...] = ("train", "val")) -> list[Job]:
    """Every phantom of the splits and shifted sets (shifted sets at 512 px, as ``honest`` renders them)."""
    out = [Job(seed, spec.size(seed), split=spec, augment=name in augmented)
           for name, spec in specs.items() for seed in spec.seeds]
    return out + [Job(seed, 512, shifted=spec) for spec in shifted for seed in spec.seeds]


def prepare(work: str | Path, specs: dict[str, SeedRange], shifted: tuple[ShiftedSet, ...] = SHIFTED,
            augmented: tuple[str, ...] = ("train", "val"), workers: int = 2,
            log: Callable[[str], None] = print) -> int:
    """Render every phantom with a missing cache entry once (``workers`` processes); returns how many."""
    work = Path(work)
    todo = [job for job in jobs(specs, shifted, augmented) if _missing(job, work)]
    if not todo:
        return 0
    started = time.monotonic()
    log(f"[prepare] rendering {len(todo)} phantoms with {workers} processes")
    if workers <= 1:
        for i, job in enumerate(todo, start=1):
            _run(job, work)
            if i % 10 == 0 or i == len(todo):
                log(f"[prepare] {i}/{len(todo)} ({(time.monotonic() - started) / 60:.1f} min)")
        return len(todo)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for i, _ in enumerate(pool.map(_run, todo, [work] * len(todo), chunksize=1), start=1):
            if i % 10 == 0 or i == len(todo):
                log(f"[prepare] {i}/{len(todo)} ({(time.monotonic() - started) / 60:.1f} min)")
    return len(todo)
