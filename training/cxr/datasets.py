"""Readers for the public chest X-ray label files (NIH ChestX-ray14, CheXpert) and a bridge to the cache.

NIH ChestX-ray14: ``Data_Entry_2017.csv`` (Image Index, Finding Labels joined by '|', Follow-up #,
Patient ID, Patient Age, Patient Gender, View Position, OriginalImage[Width, Height],
OriginalImagePixelSpacing[x, y]; the bracketed headers span two columns each) and ``BBox_List_2017.csv``
(Image Index, Finding Label, Bbox [x, y, w, h] over four columns; trailing empty columns allowed).

CheXpert: ``train.csv`` / ``valid.csv`` (Path, Sex, Age, Frontal/Lateral, AP/PA, then one column per
observation with 1.0 positive, 0.0 negative, -1.0 uncertain, blank not mentioned). Uncertain labels follow
a policy: ``u_ones`` (uncertain -> 1), ``u_zeros`` (-> 0) or ``ignore`` (masked out of the loss). Blank
counts as negative (0, unmasked), the usual convention.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.preprocessing.cxr import MODEL_SIZE, prepare_cxr

UncertainPolicy = Literal["u_ones", "u_zeros", "ignore"]
CHEXPERT_OBSERVATIONS = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
    "Fracture", "Support Devices",
)


class DatasetFormatError(ValueError):
    """A label file that does not have the expected columns; the message names the file and line."""


@dataclass(frozen=True)
class NihBox:
    """One ChestX-ray14 bounding box in original-image pixels."""

    label: str
    x: float
    y: float
    w: float
    h: float


@dataclass
class NihRecord:
    """One row of Data_Entry_2017.csv, with the boxes of BBox_List_2017.csv attached."""

    image_index: str
    findings: tuple[str, ...]
    follow_up: int
    patient_id: str
    age: int | None
    sex: str
    view: str
    width: int
    height: int
    spacing_mm: tuple[float, float]
    boxes: list[NihBox] = field(default_factory=list)

    def has(self, finding: str) -> bool:
        return finding in self.findings


def _rows(path: Path) -> Iterable[tuple[int, list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if any(cell.strip() for cell in row):
                yield number, row


def read_nih_entries(path: str | os.PathLike) -> list[NihRecord]:
    """Parse Data_Entry_2017.csv."""
    source = Path(path)
    rows = _rows(source)
    _, header = next(rows, (0, []))
    if [h.strip() for h in header[:7]] != ["Image Index", "Finding Labels", "Follow-up #", "Patient ID",
                                            "Patient Age", "Patient Gender", "View Position"]:
        raise DatasetFormatError(f"{source}: not a ChestX-ray14 Data_Entry file (header {header[:7]})")
    records = []
    for number, row in rows:
        try:
            age_text = row[4].strip().rstrip("Yy")
            records.append(NihRecord(
                image_index=row[0].strip(),
                findings=tuple(f.strip() for f in row[1].split("|") if f.strip() and f.strip() != "No Finding"),
                follow_up=int(row[2]), patient_id=row[3].strip(), age=int(age_text) if age_text else None,
                sex=row[5].strip(), view=row[6].strip(), width=int(row[7]), height=int(row[8]),
                spacing_mm=(float(row[9]), float(row[10])),
            ))
        except (IndexError, ValueError) as error:
            raise DatasetFormatError(f"{source}:{number}: {error}") from None
    return records


def read_nih_boxes(path: str | os.PathLike) -> dict[str, list[NihBox]]:
    """Parse BBox_List_2017.csv into boxes per image."""
    source = Path(path)
    rows = _rows(source)
    _, header = next(rows, (0, []))
    if [h.strip() for h in header[:2]] != ["Image Index", "Finding Label"] or not header[2].startswith("Bbox"):
        raise DatasetFormatError(f"{source}: not a ChestX-ray14 BBox_List file (header {header[:3]})")
    boxes: dict[str, list[NihBox]] = {}
    for number, row in rows:
        try:
            box = NihBox(row[1].strip(), *(float(v) for v in row[2:6]))
        except (IndexError, ValueError) as error:
            raise DatasetFormatError(f"{source}:{number}: {error}") from None
        boxes.setdefault(row[0].strip(), []).append(box)
    return boxes


def read_nih(entries: str | os.PathLike, boxes: str | os.PathLike | None = None) -> list[NihRecord]:
    """Data entries with their boxes attached."""
    records = read_nih_entries(entries)
    by_image = read_nih_boxes(boxes) if boxes else {}
    for record in records:
        record.boxes = by_image.get(record.image_index, [])
    return records


@dataclass
class ChexpertRecord:
    """One row of a CheXpert CSV: raw observation values (1.0 / 0.0 / -1.0 / None for blank)."""

    path: str
    sex: str
    age: int | None
    frontal: bool
    ap_pa: str
    observations: dict[str, float | None]


def read_chexpert(path: str | os.PathLike) -> list[ChexpertRecord]:
    """Parse a CheXpert train.csv / valid.csv."""
    source = Path(path)
    rows = _rows(source)
    _, header = next(rows, (0, []))
    header = [h.strip() for h in header]
    if header[:5] != ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA"]:
        raise DatasetFormatError(f"{source}: not a CheXpert label file (header {header[:5]})")
    observations = header[5:]
    records = []
    for number, row in rows:
        try:
            values = {name: _chexpert_value(cell) for name, cell in zip(observations, row[5:], strict=True)}
            records.append(ChexpertRecord(path=row[0].strip(), sex=row[1].strip(),
                                          age=int(row[2]) if row[2].strip() else None,
                                          frontal=row[3].strip() == "Frontal", ap_pa=row[4].strip(),
                                          observations=values))
        except ValueError as error:
            raise DatasetFormatError(f"{source}:{number}: {error}") from None
    return records


def _chexpert_value(cell: str) -> float | None:
    text = cell.strip()
    if not text:
        return None
    value = float(text)
    if value not in (1.0, 0.0, -1.0):
        raise ValueError(f"label value must be 1.0, 0.0, -1.0 or blank, got {text!r}")
    return value


def chexpert_targets(records: list[ChexpertRecord], observations: tuple[str, ...], policy: UncertainPolicy
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(targets, mask) float32 (n, k): blank -> 0; uncertain -> 1 (u_ones), 0 (u_zeros) or masked (ignore)."""
    if policy not in ("u_ones", "u_zeros", "ignore"):
        raise ValueError(f"unknown uncertain-label policy {policy!r} (u_ones, u_zeros or ignore)")
    targets = np.zeros((len(records), len(observations)), np.float32)
    mask = np.ones_like(targets)
    for i, record in enumerate(records):
        for j, name in enumerate(observations):
            value = record.observations.get(name)
            if value == 1.0:
                targets[i, j] = 1.0
            elif value == -1.0:
                if policy == "u_ones":
                    targets[i, j] = 1.0
                elif policy == "ignore":
                    mask[i, j] = 0.0
    return targets, mask


@dataclass(frozen=True)
class RealCase:
    """A real radiograph for the detector: its file, nodules (row, col, diameter_px) and pixel size."""

    image_path: str
    nodules: tuple[tuple[float, float, float], ...]
    spacing_mm: float


def nih_nodule_cases(records: list[NihRecord], image_dir: str | os.PathLike, finding: str = "Nodule"
                     ) -> list[RealCase]:
    """Frontal ChestX-ray14 images as detector cases: ``finding`` boxes become (centre, sqrt(w h)) nodules."""
    cases = []
    for record in records:
        if record.view not in ("PA", "AP"):
            continue
        nodules = tuple((b.y + b.h / 2, b.x + b.w / 2, float(np.sqrt(b.w * b.h)))
                        for b in record.boxes if b.label == finding)
        cases.append(RealCase(str(Path(image_dir) / record.image_index), nodules, record.spacing_mm[0]))
    return cases


def cache_real_split(cases: list[RealCase], folder: str | os.PathLike, size: int = MODEL_SIZE) -> Path:
    """Prepare real images with the serving preprocessing into the phantom cache format (load_split reads it).

    Without lung masks, the masks are all True (the LoG baseline then searches the whole image).
    """
    from PIL import Image

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    images = np.lib.format.open_memmap(root / "images.npy", "w+", np.float16, (len(cases), size, size))
    lungs = np.lib.format.open_memmap(root / "lungs.npy", "w+", np.bool_, (len(cases), size, size))
    table: dict[str, list[float]] = {"case": [], "row": [], "col": [], "diameter_px": [], "diameter_mm": [],
                                     "over_rib": []}
    spacing = np.zeros(len(cases))
    for index, case in enumerate(cases):
        with Image.open(case.image_path) as handle:
            pixels = np.asarray(handle.convert("I;16") if handle.mode not in ("L", "I;16") else handle)
        prepared = prepare_cxr(pixels, size=size)
        images[index], lungs[index] = prepared.image.astype(np.float16), True
        spacing[index] = case.spacing_mm / prepared.scale
        for row, col, diameter in case.nodules:
            model_row, model_col = prepared.to_model(np.array([row, col]))
            for name, value in zip(table, (index, model_row, model_col, diameter * prepared.scale,
                                           diameter * case.spacing_mm, 0.0), strict=True):
                table[name].append(value)
    images.flush()
    lungs.flush()
    np.savez(root / "nodules.npz", seeds=np.arange(len(cases)), spacing_mm=spacing,
             **{name: np.asarray(values, dtype=np.float64) for name, values in table.items()})
    atomic_write_bytes(root / "done.json", json.dumps({"cases": [c.image_path for c in cases]}).encode())
    return root
