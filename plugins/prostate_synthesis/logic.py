"""CCELLA prostate T2 synthesis: tokenise -> text encoder -> DDIM loop with the denoiser -> decoder.

numpy + onnxruntime (through the runtime's sessions) + tokenizers only. Class mode "auto" is CCELLA: the
denoiser predicts the class from the report and conditions on its own softmax. "negative"/"positive" is
a Sightline extension (not in the paper): the one-hot class replaces the predicted softmax fed to the
class embedding (class_weight = 1); the predicted class is still computed and reported. The predicted
probabilities are the denoiser's softmax averaged over the DDIM steps; so are the probabilities of the lesion
side (none / right / left) and level (none / apex / mid / base) that the denoiser reads in the report and
conditions on (a Sightline extension).
With guidance w != 1 every step also runs the denoiser on the missing report (the empty text, as in training's
dropped reports) in the same batch and uses eps_null + w * (eps_report - eps_null) (classifier-free guidance;
the class mode applies to both halves); the reported probabilities come from the report half.
The mean token feature of the report is the runtime's domain feature (is this a prostate MRI report?).
"""

from __future__ import annotations

import numpy as np

from engine.ai.context import PluginContext
from engine.geometry import Geometry, float3
from engine.volume import Volume

from .schedule import alphas_cumprod, ddim_step, ddim_timesteps, initial_noise
from .text import ReportTokenizer
from .types import CLASS_NAMES, LEVEL_NAMES, SIDE_NAMES, SynthesisRequest, SynthesisResult

MODEL_NAME = "CCELLA"
NULL_REPORT = ""  # a missing report, as the dropped reports of training


def generate(context: PluginContext, request: SynthesisRequest) -> SynthesisResult:
    """The plugin entry point (``logic:generate``)."""
    settings = context.preprocessing
    steps = int(request.steps)
    context.report(0, steps + 2, "encoding the report")
    guided = float(request.guidance) != 1.0
    prompts = [request.prompt, NULL_REPORT] if guided else [request.prompt]
    tokenizer = ReportTokenizer(context.plugin.resource_path(settings["tokenizer"]), int(settings["max_tokens"]))
    text, text_mask = zip(*(_encode(context, tokenizer, prompt) for prompt in prompts), strict=True)
    latent = initial_noise(request.seed, (1, *settings["latent_shape"]))
    batch = len(prompts)
    feeds = {
        "text": np.concatenate(text),
        "text_mask": np.concatenate(text_mask),
        "spacing": np.array([settings["spacing_mm"]] * batch, dtype=np.float32),
        "class_probs": np.zeros((batch, 2), dtype=np.float32),
        "class_weight": np.zeros((batch, 1), dtype=np.float32),
    }
    if request.class_mode != "auto":
        feeds["class_probs"][:, CLASS_NAMES.index(request.class_mode)] = 1.0
        feeds["class_weight"][:, 0] = 1.0
    denoiser = context.session("denoiser")
    alphas = alphas_cumprod()
    timesteps = ddim_timesteps(steps)
    probabilities = np.zeros(len(CLASS_NAMES))
    side_probabilities, level_probabilities = np.zeros(len(SIDE_NAMES)), np.zeros(len(LEVEL_NAMES))
    for index, t in enumerate(timesteps):
        context.report(index + 1, steps + 2, f"denoising step {index + 1}/{steps}")
        eps, logits, side_logits, level_logits = denoiser.run(
            ["eps", "class_logits", "side_logits", "level_logits"],
            {"latent": np.repeat(latent, batch, axis=0), "timestep": np.full(batch, t, dtype=np.int64), **feeds})
        if guided:
            eps = eps[1:] + float(request.guidance) * (eps[:1] - eps[1:])
        probabilities += _softmax(logits[0]) / len(timesteps)
        side_probabilities += _softmax(side_logits[0]) / len(timesteps)
        level_probabilities += _softmax(level_logits[0]) / len(timesteps)
        alpha_prev = float(alphas[timesteps[index + 1]]) if index + 1 < len(timesteps) else 1.0
        latent = ddim_step(latent, eps, float(alphas[t]), alpha_prev)
    context.report(steps + 1, steps + 2, "decoding")
    decoded = context.session("decoder").run(["volume"], {"latent": latent})[0][0, 0]
    context.report(steps + 2, steps + 2, "done")
    predicted = CLASS_NAMES[int(np.argmax(probabilities))]
    return SynthesisResult(
        request=request,
        volume=_volume(decoded, settings),
        predicted_class=predicted,
        probabilities={name: float(p) for name, p in zip(CLASS_NAMES, probabilities, strict=True)},
        class_used=predicted if request.class_mode == "auto" else request.class_mode,
        model_name=MODEL_NAME,
        side_probabilities={name: float(p) for name, p in zip(SIDE_NAMES, side_probabilities, strict=True)},
        level_probabilities={name: float(p) for name, p in zip(LEVEL_NAMES, level_probabilities, strict=True)},
        domain_features=prompt_embedding(text[0], text_mask[0]),
    )


def _encode(context: PluginContext, tokenizer: ReportTokenizer, prompt: str) -> tuple[np.ndarray, np.ndarray]:
    """Token features (1, L, 384) and mask (1, L) of one report, encoded on its own: the INT8 encoder's
    dynamic quantisation ranges span its batch, so a report's features must not depend on its neighbours."""
    tokens = tokenizer([prompt])
    text = context.session("text_encoder").run(["tokens"], {"input_ids": tokens.ids,
                                                            "attention_mask": tokens.mask})[0]
    return text.astype(np.float32), tokens.mask.astype(np.float32)


def prompt_embedding(text: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The report's embedding for the domain check: the mean of its token features (1, L, 384) over the mask."""
    weights = mask[0][:, None]
    return (text[0] * weights).sum(axis=0) / max(float(weights.sum()), 1.0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def _volume(decoded: np.ndarray, settings: dict) -> Volume:
    """Model intensities -> uint16 T2 signal on an axial grid centred on the patient origin."""
    spacing = float3(settings["spacing_mm"])
    shape = decoded.shape
    origin = tuple(-(n - 1) / 2 * s for n, s in zip(shape[::-1], spacing, strict=True))
    array = np.clip(np.rint(decoded * float(settings["intensity_scale"])), 0, 4095).astype(np.uint16)
    meta = {"synthetic": True, "series_description": "SYNTHETIC T2 prostate", "window_center": 1000,
            "window_width": 2000}
    return Volume(array, Geometry(shape=shape, spacing=spacing, origin=origin), modality="MR", meta=meta)
