"""The plugin's generated files: reference library (embeddings + PNG thumbnails) and manifest.toml.

Label codes (SNOMED CT, morphologic abnormalities, so the three segments share one hierarchy under the
SEG category "Morphologically Abnormal Structure"): 1 necrosis 6574001 |Necrosis|, 2 oedema 79654002
|Edema|, 3 enhancing tumour 108369006 |Neoplasm|. SNOMED has no concept for "enhancing" (an imaging
property, not a morphology); the enhancing rim is the viable solid neoplasm, so the segment is coded as
Neoplasm and the segment label says "enhancing tumour" (as in dcmqi's BraTS examples).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from engine.ai.hashing import sha256_file  # noqa: E402
from engine.ai.library import save_library  # noqa: E402
from engine.atomic import atomic_write_bytes  # noqa: E402
from engine.preprocessing.brain import MODEL_SPACING_MM, REFERENCE, SEQUENCES  # noqa: E402
from engine.preprocessing.brain_findings import describe, locate, region_volumes_ml, tumour_embedding  # noqa: E402
from training.brain.data import render  # noqa: E402

LIBRARY_NAME = "library.npz"
LABELS = (
    (1, "necrosis", (255, 64, 64), "6574001", "Necrosis"),
    (2, "oedema", (64, 220, 64), "79654002", "Edema"),
    (3, "enhancing tumour", (255, 220, 0), "108369006", "Neoplasm"),
)
WINDOW = (64, 64, 64)
OVERLAP = 0.25
MIN_COMPONENT_ML = 0.5
JOIN_MM = 5.0
INTENDED_USE = ("Research and demonstration only: outline necrosis, oedema and enhancing tumour of a glioma-like "
                "brain tumour on four co-registered MRI sequences (T1, T1c, T2, FLAIR) for a reader to review. "
                "Not a medical device; not for clinical use.")
_START, _END = r"(?<![a-z0-9])", r"(?![a-z0-9])"  # token edges: '_', ' ', '-' separate, letters/digits do not
ROLE_PATTERNS = {  # role -> (description patterns, exclude patterns); case-insensitive regular expressions
    "T1": ([rf"(?i){_START}t1(w|n)?{_END}", r"(?i)mprage|spgr|tfl3d"],
           [rf"(?i)post|gd|gad|\+c|contrast|{_START}t1(c|ce){_END}"]),
    "T1c": ([rf"(?i){_START}t1(w)?.*(post|gd|gad|\+c|contrast)", rf"(?i){_START}t1(c|ce|gd){_END}",
             r"(?i)(mprage|spgr|tfl3d).*(post|gd|gad|\+c)"], []),
    "T2": ([rf"(?i){_START}t2(w)?{_END}"], [r"(?i)flair|t2f|dark.?fluid|star|swi|\*"]),
    "FLAIR": ([r"(?i)flair|dark.?fluid", rf"(?i){_START}t2f{_END}"], []),
}
# What the plugin accepts (engine.ai.suitability) and the physical bounds of its output (engine.ai.plausibility;
# the measurement name is logic.py's "<region name> volume"). Contrast stays "any": T1c is post-gadolinium.
SUITABILITY = """
[suitability]
body_parts = ["BRAIN", "HEAD"]
region_name = "brain MRI"
pixel_spacing_mm = [0.3, 3.0]
spacing = "required"
slice_thickness_mm = [0.5, 6.0]
min_age_years = 18
refused_image_types = ["LOCALIZER"]

[plausibility]
measurements = { "whole tumour volume" = [0.0, 500.0] }
"""


def write_library(folder: str | os.PathLike, seeds: list[int], shape: tuple[int, int, int]) -> Path:
    """Reference cases from phantom ``seeds`` (ground-truth labels): thumbnails + ``library.npz``."""
    root = Path(folder)
    (root / "thumbs").mkdir(parents=True, exist_ok=True)
    embeddings, case_ids, labels, thumbnails = [], [], [], []
    for seed in seeds:
        rendered = render(seed, shape)
        case, prepared = rendered.case, rendered.prepared
        volumes = region_volumes_ml(case.labels, case.geometry)
        location = locate(np.argwhere(case.labels > 0), np.argwhere(prepared.image.any(axis=0)), case.geometry,
                          prepared.grid)
        case_id = f"phantom-{seed:06d}"
        relative = f"thumbs/{case_id}.png"
        _thumbnail(case.sequences["T1c"], case.labels, root / relative)
        embeddings.append(tumour_embedding(volumes, location))
        case_ids.append(case_id)
        labels.append(describe(location, volumes))
        thumbnails.append(relative)
    return save_library(root / LIBRARY_NAME, np.stack(embeddings), case_ids, labels, thumbnails)


def _toml_list(patterns: list[str]) -> str:
    """A TOML array of literal strings (no escapes: regular expressions stay readable)."""
    return "[" + ", ".join(f"'{pattern}'" for pattern in patterns) + "]"


def _thumbnail(t1c: np.ndarray, labels: np.ndarray, path: Path) -> None:
    z = int(np.argmax((labels > 0).sum(axis=(1, 2))))
    figure = plt.figure(figsize=(1.0, 1.2), dpi=64)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(t1c[z], cmap="gray")
    axes.contour(labels[z] > 0, levels=[0.5], colors="yellow", linewidths=0.6)
    axes.axis("off")
    figure.savefig(path)
    plt.close(figure)


def write_manifest(folder: str | os.PathLike, model_file: str, temperature: float, version: str,
                   training_data: str) -> Path:
    """``manifest.toml`` with the model hash, the fitted temperature and the inference parameters."""
    root = Path(folder)
    digest = sha256_file(root / model_file)
    input_tables = "\n".join(
        f'[[inputs]]\nrole = "{role}"\nmodalities = ["MR"]\ndescription_patterns = {_toml_list(patterns)}\n'
        f'exclude_patterns = {_toml_list(excludes)}\ndimensions = "3d"\n'
        for role, (patterns, excludes) in ROLE_PATTERNS.items())
    label_tables = "\n".join(
        f'[[labels]]\nvalue = {value}\nname = "{name}"\ncolor = [{", ".join(map(str, color))}]\n'
        f'code = {{ scheme = "SCT", value = "{code}", meaning = "{meaning}" }}\n'
        for value, name, color, code, meaning in LABELS)
    text = f'''# Generated by training/brain/pipeline.py: do not edit by hand (hash and temperature come from the fit).
schema_version = 1
id = "brain_tumor_mri"
name = "Brain tumour segmentation (MRI)"
version = "{version}"
kind = "segmentation"
modalities = ["MR"]
entry_point = "logic:run"
intended_use = "{INTENDED_USE}"
training_data = "{training_data}"
clinical_use = false

{input_tables}
[[models]]
name = "segmenter"
path = "{model_file}"
sha256 = "{digest}"

[preprocessing]
reference_role = "{REFERENCE}"
sequences = [{", ".join(f'"{name}"' for name in SEQUENCES)}]
spacing_mm = {MODEL_SPACING_MM}
window = [{", ".join(map(str, WINDOW))}]
overlap = {OVERLAP}
min_component_ml = {MIN_COMPONENT_ML}
join_mm = {JOIN_MM}

{label_tables}
[calibration]
temperature = {temperature:.6f}
high = 0.90
medium = 0.70

[retrieval]
library = "{LIBRARY_NAME}"
top_k = 5
{SUITABILITY}'''
    target = root / "manifest.toml"
    atomic_write_bytes(target, text.encode())
    return target
