"""Export the shipped CCELLA models to ONNX (opset 17, dynamic batch) and check parity with PyTorch.

denoiser.onnx: latent (B, 4, 8, 16, 16) float32, timestep (B,) int64, text (B, L, 384), text_mask (B, L),
spacing (B, 3) mm, class_probs (B, 2), class_weight (B, 1) -> eps (B, 4, 8, 16, 16), class_logits (B, 2),
side_logits (B, 3) (none / right / left named in the report), level_logits (B, 4) (none / apex / mid / base).
decoder.onnx: latent (B, 4, 8, 16, 16) (diffusion scale; 1 / scale applied inside) -> volume
(B, 1, 32, 64, 64) in model intensity units. The text encoder is exported by text_encoder.py.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from engine.ai.sessions import cpu_session
from training.ccella.autoencoder import KLAutoencoder
from training.ccella.config import LATENT_SHAPE, MAX_TOKENS, TEXT_DIM
from training.ccella.unet import Denoiser

OPSET = 17
DENOISER_INPUTS = ("latent", "timestep", "text", "text_mask", "spacing", "class_probs", "class_weight")
DENOISER_OUTPUTS = ("eps", "class_logits", "side_logits", "level_logits")


class _Decode(torch.nn.Module):
    def __init__(self, autoencoder: KLAutoencoder) -> None:
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.autoencoder.decode(latent)


def denoiser_example(batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random denoiser inputs (for export and parity checks)."""
    generator = torch.Generator().manual_seed(seed)
    mask = torch.ones(batch, MAX_TOKENS)
    mask[:, MAX_TOKENS // 2:] = 0
    return (torch.randn(batch, *LATENT_SHAPE, generator=generator),
            torch.randint(0, 1000, (batch,), generator=generator),
            torch.randn(batch, MAX_TOKENS, TEXT_DIM, generator=generator), mask,
            torch.tensor([[2.0, 2.0, 2.25]] * batch), torch.softmax(torch.randn(batch, 2, generator=generator), -1),
            torch.rand(batch, 1, generator=generator))


def _export(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], path: Path, input_names: tuple[str, ...],
            output_names: tuple[str, ...]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {name: {0: "batch"} for name in (*input_names, *output_names)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), inputs, str(path), input_names=list(input_names),
                          output_names=list(output_names), opset_version=OPSET, dynamic_axes=axes, dynamo=False)
    return path


def export_denoiser(model: Denoiser, path: str | os.PathLike) -> Path:
    return _export(model, denoiser_example(), Path(path), DENOISER_INPUTS, DENOISER_OUTPUTS)


def export_decoder(autoencoder: KLAutoencoder, path: str | os.PathLike) -> Path:
    return _export(_Decode(autoencoder), (torch.randn(1, *LATENT_SHAPE),), Path(path), ("latent",), ("volume",))


def _session(path: str | os.PathLike) -> ort.InferenceSession:
    return cpu_session(path, 1)


def denoiser_parity(model: Denoiser, path: str | os.PathLike, batch: int = 3) -> dict[str, float]:
    """Max |PyTorch - ONNX Runtime| of every denoiser output on random inputs."""
    inputs = denoiser_example(batch, seed=1)
    with torch.no_grad():
        reference = [t.numpy() for t in model.eval()(*inputs)]
    feeds = {name: t.numpy() for name, t in zip(DENOISER_INPUTS, inputs, strict=True)}
    outputs = _session(path).run(list(DENOISER_OUTPUTS), feeds)
    return {name: float(np.abs(a - b).max()) for name, a, b in zip(DENOISER_OUTPUTS, outputs, reference, strict=True)}


def decoder_parity(autoencoder: KLAutoencoder, path: str | os.PathLike) -> dict[str, float]:
    """Max |PyTorch - ONNX Runtime| of the decoded volume on random latents."""
    latent = torch.randn(2, *LATENT_SHAPE, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        reference = autoencoder.eval().decode(latent).numpy()
    output = _session(path).run(["volume"], {"latent": latent.numpy()})[0]
    return {"volume": float(np.abs(output - reference).max())}
