"""Export a trained NoduleNet to ONNX (opset 17, dynamic batch) and check parity with ONNX Runtime.

Outputs (decoding happens in numpy, engine.preprocessing.cxr.decode_peaks): ``heatmap`` centre logits
(B, S/4, S/4), ``log_size`` (B, S/4, S/4), ``offset`` (B, 2, S/4, S/4), ``image_logit`` (B,), ``cam`` the
class activation map sum_c w_c A_c of the target layer (B, S/4, S/4), ``embedding`` (B, D) unit length.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from engine.ai.sessions import cpu_session
from training.cxr.model import ExportWrapper, NoduleNet

OPSET = 17


def export_onnx(model: NoduleNet, path: str | os.PathLike, size: int) -> Path:
    """Write the ONNX graph of ``model`` for (B, 1, size, size) inputs; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    wrapper = ExportWrapper(model.eval()).eval()
    example = torch.zeros(1, 1, size, size)
    axes = {"image": {0: "batch"}, **{name: {0: "batch"} for name in ExportWrapper.OUTPUTS}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter needs no onnxscript
        torch.onnx.export(wrapper, (example,), str(target), input_names=["image"],
                          output_names=list(ExportWrapper.OUTPUTS), opset_version=OPSET,
                          dynamic_axes=axes, dynamo=False)
    return target


def parity(model: NoduleNet, onnx_path: str | os.PathLike, images: np.ndarray) -> dict[str, float]:
    """Max |PyTorch - ONNX Runtime| per output on ``images`` (n, S, S), and the same divided by the
    output's largest magnitude (``<name>_relative``)."""
    batch = np.asarray(images, dtype=np.float32)[:, None]
    session = cpu_session(onnx_path)
    onnx_out = session.run(list(ExportWrapper.OUTPUTS), {"image": batch})
    with torch.no_grad():
        torch_out = ExportWrapper(model.eval())(torch.from_numpy(batch))
    diffs = {}
    for name, ours, reference in zip(ExportWrapper.OUTPUTS, onnx_out, torch_out, strict=True):
        diffs[name] = float(np.abs(ours - reference.numpy()).max())
        diffs[f"{name}_relative"] = diffs[name] / max(float(np.abs(reference.numpy()).max()), 1e-12)
    return diffs
