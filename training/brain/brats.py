"""Reader for BraTS case folders, so the same training code runs on real data when a user has it.

A case is a folder ``<case>/`` holding four sequences and (for training data) a segmentation, named
either the BraTS 2023 way (``<case>-t1n.nii.gz``, ``-t1c``, ``-t2w``, ``-t2f``, ``-seg``) or the older
BraTS 2018-2021 way (``<case>_t1.nii.gz``, ``_t1ce``, ``_t2``, ``_flair``, ``_seg``; ``.nii`` too). Older
segmentations code enhancing tumour as 4; it is mapped to the 2023 value 3.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.nifti import read_nifti
from engine.volume import Volume
from plugins.brain_tumor_mri.preprocessing import SEQUENCES, PreparedBrain, prepare_brain
from training.brain.data import CachedSplit, SplitSpec, targets_on_grid

NAMING = {
    "brats2023": {"T1": "t1n", "T1c": "t1c", "T2": "t2w", "FLAIR": "t2f", "seg": "seg"},
    "brats2021": {"T1": "t1", "T1c": "t1ce", "T2": "t2", "FLAIR": "flair", "seg": "seg"},
}
SEPARATOR = {"brats2023": "-", "brats2021": "_"}


@dataclass(frozen=True)
class BratsCase:
    """One case folder: id, naming convention, sequence files and the segmentation (None if absent)."""

    case_id: str
    naming: str
    sequences: dict[str, Path]
    segmentation: Path | None

    def volumes(self) -> dict[str, Volume]:
        """The four sequences as MR Volumes (keys T1, T1c, T2, FLAIR)."""
        return {name: read_nifti(path, modality="MR") for name, path in self.sequences.items()}

    def labels(self) -> np.ndarray:
        """The segmentation as BraTS 2023 labels (uint8; 4 -> 3 for older data)."""
        if self.segmentation is None:
            raise FileNotFoundError(f"case {self.case_id} has no segmentation")
        labels = np.asarray(read_nifti(self.segmentation).array).astype(np.uint8)
        if self.naming == "brats2021":
            labels[labels == 4] = 3
        unknown = np.setdiff1d(np.unique(labels), [0, 1, 2, 3])
        if unknown.size:
            raise ValueError(f"{self.segmentation}: unexpected label values {unknown.tolist()}")
        return labels


def prepare_case(case: BratsCase) -> tuple[PreparedBrain, np.ndarray]:
    """The model input and WT/TC/ET targets of a labelled case, through the same preprocessing as the
    phantoms and the plugin (the training loop takes them like a cached phantom)."""
    prepared = prepare_brain(case.volumes())
    source = prepared.source
    return prepared, targets_on_grid(case.labels(), source, prepared.grid)


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in (".nii.gz", ".nii"):
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    return None


def read_case(folder: str | os.PathLike) -> BratsCase:
    """The case in ``folder`` (its name is the case id); ValueError naming what is missing."""
    root = Path(folder)
    case_id = root.name
    for naming, keys in NAMING.items():
        files = {name: _find(root, f"{case_id}{SEPARATOR[naming]}{keys[name]}") for name in SEQUENCES}
        if all(files.values()):
            seg = _find(root, f"{case_id}{SEPARATOR[naming]}{keys['seg']}")
            return BratsCase(case_id, naming, {k: v for k, v in files.items() if v is not None}, seg)
    expected = ", ".join(f"{case_id}-{k}.nii.gz" for k in ("t1n", "t1c", "t2w", "t2f"))
    raise ValueError(f"{root}: not a BraTS case folder (expected {expected}, or the _t1/_t1ce/_t2/_flair names)")


def find_cases(root: str | os.PathLike) -> list[BratsCase]:
    """Every BraTS case folder directly under ``root``, sorted by id (other folders are skipped)."""
    cases = []
    for folder in sorted(Path(root).iterdir()):
        if folder.is_dir():
            try:
                cases.append(read_case(folder))
            except ValueError:
                continue
    return cases


def brats_split(cases: list[BratsCase], name: str) -> CachedSplit:
    """Labelled BraTS cases as a split the training loop takes (images float16, as the phantom cache)."""
    images, targets = [], []
    for case in cases:
        prepared, target = prepare_case(case)
        images.append(prepared.image.astype(np.float16))
        targets.append(target)
    return CachedSplit(SplitSpec(name, 0, len(cases), shapes=()), images, targets)
