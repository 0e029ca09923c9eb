"""Write the shipped plugin: the three ONNX models, tokenizer.json and manifest.toml (with SHA-256s)."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.ai.hashing import sha256_file
from engine.ai.manifest import load_manifest
from engine.atomic import atomic_write_bytes
from engine.synthesis.schedule import BETA_END, BETA_START, TRAIN_STEPS
from training.ccella.config import INTENSITY_SCALE, LATENT_SHAPE, MAX_TOKENS, PLUGIN_DIR, WORK_DIR
from training.ccella.export import export_decoder, export_denoiser
from training.ccella.train_autoencoder import load_autoencoder
from training.ccella.train_diffusion import PHANTOM_SPACING, load_denoiser

VERSION = "0.1.0"
MODELS = (("text_encoder", "text_encoder.onnx"), ("denoiser", "denoiser.onnx"), ("decoder", "decoder.onnx"))

INTENDED_USE = ("Research and education: generate SYNTHETIC axial prostate T2 volumes from a free-text report "
                "prompt (class predicted from the report). Never for diagnosis.")
TRAINING_DATA = ("Synthetic prostate T2 phantoms with templated reports (training/phantoms/prostate_mri.py), "
                 "not patient data. Text encoder: all-MiniLM-L6-v2 (frozen, INT8).")

_MANIFEST = """schema_version = 1
id = "prostate_synthesis"
name = "Prostate T2 synthesis (CCELLA, report-guided)"
version = "{version}"
kind = "synthesis"
modalities = ["MR"]
entry_point = "logic:generate"
intended_use = "{intended_use}"
training_data = "{training_data}"
clinical_use = false

[[inputs]]
role = "reference"
modalities = ["MR"]
required = false

{models}
[preprocessing]
tokenizer = "tokenizer.json"
max_tokens = {max_tokens}
latent_shape = {latent_shape}
spacing_mm = {spacing}
intensity_scale = {intensity_scale}
latent_scale = {latent_scale}
train_steps = {train_steps}
beta_schedule = "scaled_linear {beta_start}-{beta_end}"
default_steps = 50
"""


def write_plugin(work: Path = WORK_DIR, folder: Path = PLUGIN_DIR) -> Path:
    """Export the CCELLA denoiser and the decoder, copy the text encoder, write manifest.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    autoencoder = load_autoencoder(work)
    export_denoiser(load_denoiser("ccella", work), folder / "denoiser.onnx")
    export_decoder(autoencoder, folder / "decoder.onnx")
    for name in ("text_encoder.onnx", "tokenizer.json"):
        shutil.copyfile(work / "text" / name, folder / name)
    models = "".join(f'[[models]]\nname = "{name}"\npath = "{path}"\nsha256 = "{sha256_file(folder / path)}"\n\n'
                     for name, path in MODELS)
    text = _MANIFEST.format(version=VERSION, models=models, intended_use=INTENDED_USE, training_data=TRAINING_DATA,
                            max_tokens=MAX_TOKENS, latent_shape=list(LATENT_SHAPE),
                            spacing=list(PHANTOM_SPACING), intensity_scale=INTENSITY_SCALE,
                            latent_scale=round(float(autoencoder.scale), 6), train_steps=TRAIN_STEPS,
                            beta_start=BETA_START, beta_end=BETA_END)
    manifest = folder / "manifest.toml"
    atomic_write_bytes(manifest, text.encode())
    manifest.chmod(0o644)
    load_manifest(manifest)
    return manifest
