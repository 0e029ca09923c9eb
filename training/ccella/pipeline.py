"""The whole CCELLA run, stage by stage (torch uses every core):

text encoder export -> phantom data -> autoencoder (region-weighted L1) -> the four denoiser
variants (the same number of steps each) -> ONNX export into the plugin + parity -> evaluation and MODEL_CARD.md.

    python -m training.ccella.pipeline --ae-steps 1250 --ae-runs 2 --diffusion-steps 6000

Every budget is a step count (no wall-clock limit): the same seeds give the same weights on any machine.
"""

from __future__ import annotations

import argparse
import json

from training.ccella import evaluate, prompt_domain, train_autoencoder, train_diffusion
from training.ccella.config import EVALUATOR_SEEDS, PLUGIN_DIR, TEST_SEEDS, TRAIN_SEEDS, VAL_SEEDS, WORK_DIR
from training.ccella.data import cached_split
from training.ccella.export import decoder_parity, denoiser_parity
from training.ccella.plugin_files import write_plugin
from training.ccella.text_encoder import export_text_encoder
from training.ccella.text_encoder import parity as text_parity
from training.ccella.unet import VARIANTS

PARITY_TEXTS = [
    "Axial T2: markedly hypointense lesion of 14 mm centred in the left peripheral zone (apex). PI-RADS 4.",
    "Gland volume 35 mL. No focal abnormality in the peripheral or transition zone. Assessment: PI-RADS 1.",
    "",
]


def export_and_check() -> dict:
    """Write the plugin files and the parity numbers (work/parity.json)."""
    write_plugin()
    text = text_parity(WORK_DIR / "text", PARITY_TEXTS)
    denoiser = denoiser_parity(train_diffusion.load_denoiser("ccella"), PLUGIN_DIR / "denoiser.onnx")
    decoder = decoder_parity(train_autoencoder.load_autoencoder(), PLUGIN_DIR / "decoder.onnx")
    parity = {"text_fp32_max_abs": text["fp32_max_abs"], "text_int8_max_abs": text["int8_max_abs"],
              "text_int8_mean_cosine": text["int8_mean_cosine"], "denoiser_eps": denoiser["eps"],
              "denoiser_logits": denoiser["class_logits"], "denoiser_side_logits": denoiser["side_logits"],
              "denoiser_level_logits": denoiser["level_logits"],
              "decoder": decoder["volume"]}
    (WORK_DIR / "parity.json").write_text(json.dumps(parity, indent=2))
    return parity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ae-steps", type=int, default=1250, help="optimizer steps of one autoencoder run")
    parser.add_argument("--ae-runs", type=int, default=2,
                        help="autoencoder runs, each resuming the last (warm restart of the learning rate)")
    parser.add_argument("--diffusion-steps", type=int, default=6000)
    parser.add_argument("--skip-autoencoder", action="store_true",
                        help="reuse work/autoencoder.pt and work/latents.npz (the text encoder and data are cached)")
    args = parser.parse_args()
    export_text_encoder(WORK_DIR / "text")
    for name, seeds, text in (("train", TRAIN_SEEDS, True), ("test", TEST_SEEDS, True), ("val", VAL_SEEDS, False),
                              ("evaluator", EVALUATOR_SEEDS, False)):
        cached_split(name, seeds, with_text=text)
    if not args.skip_autoencoder:
        for run in range(args.ae_runs):
            train_autoencoder.train(args.ae_steps, resume=run > 0)
    for variant in VARIANTS:
        train_diffusion.train(variant, args.diffusion_steps)
    print(json.dumps(export_and_check()))
    evaluate.main()
    prompt_domain.run(PLUGIN_DIR)  # after the manifest and the card are written: adds [domain] and its section


if __name__ == "__main__":
    main()
