"""Export LesionNet to ONNX (opset 17, dynamic batch) and measure parity with ONNX Runtime.

Inputs ``local`` (B, 3, 32, 32), ``context`` (B, 3, 64, 64), ``scalars`` (B, 8); outputs ``logits``
(B, 5) and ``embedding`` (B, 64).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from engine.ai.sessions import cpu_session
from plugins.coronary_calcium_ct.features import CONTEXT_SIZE, LOCAL_SIZE, N_SCALARS
from training.calcium.model import LesionNet
from training.calcium.train import Arrays

OPSET = 17
INPUTS = ("local", "context", "scalars")
OUTPUTS = ("logits", "embedding")


def export_onnx(model: LesionNet, path: str | os.PathLike) -> Path:
    """Write the ONNX graph of ``model`` (eval mode); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    example = (torch.zeros(2, 3, LOCAL_SIZE, LOCAL_SIZE), torch.zeros(2, 3, CONTEXT_SIZE, CONTEXT_SIZE),
               torch.zeros(2, N_SCALARS))
    axes = {name: {0: "batch"} for name in INPUTS + OUTPUTS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model.eval(), example, str(target), input_names=list(INPUTS), output_names=list(OUTPUTS),
                          opset_version=OPSET, dynamic_axes=axes, dynamo=False)
    return target


def onnx_inputs(data: Arrays) -> dict[str, np.ndarray]:
    return {"local": data.local, "context": data.context, "scalars": data.scalars}


def parity(model: LesionNet, onnx_path: str | os.PathLike, data: Arrays) -> dict[str, float]:
    """Max |PyTorch - ONNX Runtime| per output on ``data``."""
    session = cpu_session(onnx_path)
    onnx_out = session.run(list(OUTPUTS), onnx_inputs(data))
    with torch.no_grad():
        torch_out = model.eval()(torch.from_numpy(data.local), torch.from_numpy(data.context),
                                 torch.from_numpy(data.scalars))
    return {name: float(np.abs(a - b.numpy()).max()) for name, a, b in zip(OUTPUTS, onnx_out, torch_out, strict=True)}
