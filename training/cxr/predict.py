"""Run a model (PyTorch or ONNX Runtime) over prepared model-grid images and decode its detections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.preprocessing.cxr import PreparedCxr, decode_peaks
from training.cxr.model import STRIDE

# forward(batch (b, 1, S, S) float32) -> dict with "heatmap", "log_size", "offset", "image_logit", "embedding"
Forward = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass
class Predictions:
    """Per case: detections (m, 4) row, col, diameter_px, logit on the model grid; image logit; embedding."""

    detections: list[np.ndarray]
    image_logits: np.ndarray
    embeddings: np.ndarray


def predict(forward: Forward, images: np.ndarray, batch_size: int = 8, max_detections: int = 20) -> Predictions:
    """Forward ``images`` (n, S, S) in batches and decode each case's peaks (model-grid coordinates)."""
    detections, logits, embeddings = [], [], []
    size = images.shape[-1]
    identity = PreparedCxr(image=np.zeros((0, 0), np.float32), scale=1.0, source_shape=(size, size))
    for first in range(0, len(images), batch_size):
        batch = np.asarray(images[first:first + batch_size], dtype=np.float32)[:, None]
        out = forward(batch)
        for b in range(len(batch)):
            peaks = decode_peaks(out["heatmap"][b], out["log_size"][b], out["offset"][b], identity, STRIDE,
                                 max_detections=max_detections)
            detections.append(np.array([[p.row, p.col, p.diameter_px, p.logit] for p in peaks]).reshape(-1, 4))
        logits.append(out["image_logit"])
        embeddings.append(out["embedding"])
    return Predictions(detections, np.concatenate(logits), np.concatenate(embeddings))


def torch_forward(model) -> Forward:
    """A Forward for a NoduleNet in eval mode (no gradients)."""
    import torch

    def forward(batch: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            out = model(torch.from_numpy(batch))
        return {key: value.numpy() for key, value in out.items() if key != "cam_features"}

    return forward


def onnx_forward(session) -> Forward:
    """A Forward for an ONNX Runtime session of the exported graph."""
    names = [output.name for output in session.get_outputs()]

    def forward(batch: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, {"image": batch}), strict=True))

    return forward
