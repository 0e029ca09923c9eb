"""Write the shipped plugin: the three ONNX models, tokenizer.json and manifest.toml (with SHA-256s)."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.ai.hashing import sha256_file
from engine.ai.manifest import SCHEMA_VERSION, Host, InputRole, Manifest, ModelFile, load_manifest
from engine.atomic import atomic_write_bytes
from plugins.prostate_synthesis.schedule import BETA_END, BETA_START, TRAIN_STEPS
from training.ccella.config import INTENSITY_SCALE, LATENT_SHAPE, MAX_TOKENS, PLUGIN_DIR, WORK_DIR
from training.ccella.export import export_decoder, export_denoiser
from training.ccella.train_autoencoder import load_autoencoder
from training.ccella.train_diffusion import PHANTOM_SPACING, load_denoiser
from training.hashed_files import file_entries

VERSION = "0.1.0"
# Data files the plugin loads (text.py reads the tokenizer, templates.py the synthesis panel's templates).
DATA_FILES = ("tokenizer.json", "report_templates.json")
MODELS = (("text_encoder", "text_encoder.onnx"), ("denoiser", "denoiser.onnx"), ("decoder", "decoder.onnx"))

INTENDED_USE = ("Research and education: generate SYNTHETIC axial prostate T2 volumes from a free-text report "
                "prompt (class predicted from the report). Never for diagnosis.")
TRAINING_DATA = ("Synthetic prostate T2 phantoms with templated reports (training/phantoms/prostate_mri.py), "
                 "not patient data. Text encoder: all-MiniLM-L6-v2 (frozen, INT8).")

# What the host takes from the plugin: the Synthesis dock, `sightline synthesize` and its self-check step.
HOST = Host(dock="widget:SynthesisPanel", dock_title="Synthesis", commands=["cli:register"], self_check="check:run")


def write_plugin(work: Path = WORK_DIR, folder: Path = PLUGIN_DIR) -> Path:
    """Export the CCELLA denoiser and the decoder, copy the text encoder, write manifest.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    autoencoder = load_autoencoder(work)
    export_denoiser(load_denoiser("ccella", work), folder / "denoiser.onnx")
    export_decoder(autoencoder, folder / "decoder.onnx")
    for name in ("text_encoder.onnx", "tokenizer.json"):
        shutil.copyfile(work / "text" / name, folder / name)
    text = plugin_manifest(folder, round(float(autoencoder.scale), 6)).to_toml()
    manifest = folder / "manifest.toml"
    atomic_write_bytes(manifest, text.encode())
    manifest.chmod(0o644)
    load_manifest(manifest)
    return manifest


def plugin_manifest(folder: Path, latent_scale: float) -> Manifest:
    """The manifest of the plugin in ``folder`` (its model hashes) with the autoencoder's latent scale."""
    return Manifest(
        schema_version=SCHEMA_VERSION, id="prostate_synthesis", name="Prostate T2 synthesis (CCELLA, report-guided)",
        version=VERSION, kind="synthesis", modalities=["MR"], entry_point="logic:generate",
        intended_use=INTENDED_USE, training_data=TRAINING_DATA, clinical_use=False,
        inputs=[InputRole(role="reference", modalities=["MR"], required=False)],
        models=[ModelFile(name=name, path=path, sha256=sha256_file(folder / path)) for name, path in MODELS],
        preprocessing={"tokenizer": "tokenizer.json", "max_tokens": MAX_TOKENS, "latent_shape": list(LATENT_SHAPE),
                       "spacing_mm": list(PHANTOM_SPACING), "intensity_scale": INTENSITY_SCALE,
                       "latent_scale": latent_scale, "train_steps": TRAIN_STEPS,
                       "beta_schedule": f"scaled_linear {BETA_START}-{BETA_END}", "default_steps": 50},
        host=HOST,
        files=file_entries(folder, None, DATA_FILES),
    )
