"""The phantom data of every split, generated once and cached: normalised T2 volumes on the model grid,
class / PI-RADS / lesion truth, the zone / lesion label maps, the report text and its frozen per-token text
features."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugins.prostate_synthesis.types import LEVEL_NAMES, SIDE_NAMES
from training.ccella.config import INTENSITY_SCALE, NULL_REPORT, VOLUME_SHAPE, WORK_DIR
from training.ccella.text_encoder import OnnxTextEncoder
from training.phantoms.prostate_mri import make_prostate_mri

SIDES = SIDE_NAMES  # lesion side code 0 / 1 / 2 (patient's side), as the denoiser's side logits
LEVELS = LEVEL_NAMES  # lesion level code 0 none / 1 apex / 2 mid / 3 base, as the denoiser's level logits


@dataclass
class Split:
    """One split: volumes (n, z, y, x) float32 in model units, label maps (n, z, y, x) uint8 (1 PZ, 2 TZ,
    3 lesion), truth arrays, reports, text features."""

    seeds: np.ndarray
    volumes: np.ndarray
    labels: np.ndarray
    label_class: np.ndarray
    pirads: np.ndarray
    side: np.ndarray
    reports: list[str]
    features: np.ndarray | None  # (n, L, 384) float16, or None when the split needs no text
    mask: np.ndarray | None

    def __len__(self) -> int:
        return len(self.seeds)

    @property
    def level(self) -> np.ndarray:
        """Level code (LEVELS) of the lesion each report names."""
        return np.array([LEVELS.index(named_level(report)) for report in self.reports], dtype=np.int64)


def named_level(report: str) -> str:
    """The level a report names for its lesion (apex / mid / base), or "none"."""
    found = re.search(r"\b(apex|apical|mid[- ]?gland|base|basal)\b", report, flags=re.IGNORECASE)
    if found is None:
        return "none"
    word = found.group(1).lower()
    return "apex" if word.startswith("ap") else "base" if word.startswith("bas") else "mid"


def to_model_units(image: np.ndarray) -> np.ndarray:
    """Stored uint16 T2 signal -> float32 model intensity."""
    return np.asarray(image, dtype=np.float32) / INTENSITY_SCALE


def render_split(seeds: range, encoder: OnnxTextEncoder | None) -> Split:
    """Render the phantoms of ``seeds`` on the model grid (and encode their reports if ``encoder``)."""
    cases = [make_prostate_mri(seed, shape=VOLUME_SHAPE) for seed in seeds]
    reports = [case.report for case in cases]
    features = mask = None
    if encoder is not None:
        features, mask = encoder(reports)
        features = features.astype(np.float16)
    return Split(
        seeds=np.asarray(list(seeds)),
        volumes=np.stack([to_model_units(case.image) for case in cases]).astype(np.float16),
        labels=np.stack([case.labels for case in cases]).astype(np.uint8),
        label_class=np.array([case.label_class for case in cases], dtype=np.int64),
        pirads=np.array([case.pirads for case in cases], dtype=np.int64),
        side=np.array([SIDES.index(case.lesion["side"]) if case.lesion else 0 for case in cases], dtype=np.int64),
        reports=reports,
        features=features,
        mask=mask,
    )


def save_split(split: Split, path: str | os.PathLike) -> None:
    arrays = {name: getattr(split, name) for name in ("seeds", "volumes", "labels", "label_class", "pirads", "side")}
    if split.features is not None:
        arrays.update(features=split.features, mask=split.mask)
    np.savez(path, reports=np.array(json.dumps(split.reports)), **arrays)


def load_split(path: str | os.PathLike) -> Split:
    with np.load(path) as data:
        return Split(
            seeds=data["seeds"], volumes=data["volumes"].astype(np.float32), labels=data["labels"],
            label_class=data["label_class"],
            pirads=data["pirads"], side=data["side"], reports=json.loads(str(data["reports"])),
            features=data["features"] if "features" in data else None,
            mask=data["mask"] if "mask" in data else None,
        )


def cached_split(name: str, seeds: range, with_text: bool, work: Path = WORK_DIR) -> Split:
    """The split ``name`` from the cache, rendering (and encoding) it the first time."""
    path = work / "data" / f"{name}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_split(render_split(seeds, text_encoder(work) if with_text else None), path)
    return load_split(path)


def text_encoder(work: Path = WORK_DIR) -> OnnxTextEncoder:
    """The exported INT8 text encoder (see text_encoder.export_text_encoder)."""
    return OnnxTextEncoder(work / "text" / "text_encoder.onnx", work / "text" / "tokenizer.json")


def null_text(work: Path = WORK_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Features and mask of the missing report (1, L, 384) / (1, L)."""
    features, mask = text_encoder(work)([NULL_REPORT])
    return features, mask
