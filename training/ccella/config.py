"""Shapes and constants shared by every CCELLA training, export and evaluation step."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
WORK_DIR = REPO_ROOT / "build" / "ccella"  # cached data, checkpoints, logs (git-ignored)
PLUGIN_DIR = REPO_ROOT / "plugins" / "prostate_synthesis"

VOLUME_SHAPE = (32, 64, 64)  # z, y, x of the model grid (72 x 128 x 128 mm field of view)
LATENT_CHANNELS = 4
LATENT_SHAPE = (LATENT_CHANNELS, 8, 16, 16)  # 4x downsampling on every axis
INTENSITY_SCALE = 1500.0  # stored uint16 / this = model intensity (the phantom's signal unit)
MAX_TOKENS = 64
TEXT_DIM = 384  # all-MiniLM-L6-v2 hidden size
NULL_REPORT = ""  # a missing report is encoded as the empty text ([CLS] [SEP])
CLASS_NAMES = ("negative", "positive")

# Phantom seed ranges of the splits (disjoint): the generative model and the downstream "real" set,
# the evaluator network (FID features + adherence classifier), and the held-out test set.
TRAIN_SEEDS = range(0, 1200)
EVALUATOR_SEEDS = range(100_000, 100_400)
TEST_SEEDS = range(200_000, 200_256)
VAL_SEEDS = range(500_000, 500_064)  # autoencoder validation: decides whether a resumed run is kept
