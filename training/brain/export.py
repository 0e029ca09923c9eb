"""ONNX export (opset 17, dynamic batch and spatial axes), torch-vs-ORT parity, static INT8 (QDQ) and timing.

Graph: input ``image`` (B, 4, Z, Y, X) float32 (Z, Y, X multiples of 8), output ``logits`` (B, 3, Z, Y, X)
for the WT, TC, ET regions. INT8: activations and weights QInt8, per-channel weights, calibrated on
training-split crops; it ships only if it is faster and loses no more than 0.01 Dice.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from engine.ai.sessions import cpu_session
from training.brain.model import NetConfig, UNet3D

OPSET = 17
INPUT, OUTPUT = "image", "logits"


def export_onnx(model: UNet3D, path: str | os.PathLike, window: Sequence[int] = (64, 64, 64)) -> Path:
    """Write the ONNX graph of ``model`` (eval mode); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, model.config.in_channels, *window)
    axes = {name: {0: "batch", 2: "z", 3: "y", 4: "x"} for name in (INPUT, OUTPUT)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model.eval(), (example,), str(target), input_names=[INPUT], output_names=[OUTPUT],
                          opset_version=OPSET, dynamic_axes=axes, dynamo=False)
    return target


def session(path: str | os.PathLike, threads: int = 1) -> ort.InferenceSession:
    """A CPU session with the app's options and ``threads`` intra-op threads."""
    return cpu_session(path, threads)


def parity(model: UNet3D, onnx_path: str | os.PathLike, images: Sequence[np.ndarray]) -> float:
    """Max |PyTorch - ONNX Runtime| over the logits of ``images`` (each (4, z, y, x))."""
    runner = session(onnx_path)
    worst = 0.0
    with torch.no_grad():
        for image in images:
            batch = np.asarray(image, dtype=np.float32)[None]
            expected = model.eval()(torch.from_numpy(batch)).numpy()
            actual = runner.run([OUTPUT], {INPUT: batch})[0]
            worst = max(worst, float(np.max(np.abs(expected - actual))))
    return worst


class _Crops(CalibrationDataReader):
    def __init__(self, images: Sequence[np.ndarray]) -> None:
        self._items = iter([np.asarray(image, dtype=np.float32)[None] for image in images])

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._items, None)
        return None if item is None else {INPUT: item}


def quantize(fp32_path: str | os.PathLike, int8_path: str | os.PathLike, calibration: Sequence[np.ndarray]
             ) -> Path:
    """The static INT8 QDQ model (S8S8, per-channel weights) calibrated on ``calibration`` volumes."""
    target = Path(int8_path)
    prepared = target.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)  # dynamic spatial axes
    try:
        quantize_static(str(prepared), str(target), _Crops(calibration), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        prepared.unlink(missing_ok=True)
    return target


def seconds_per_volume(models: dict[str, Path], image: np.ndarray, threads: int = 2, rounds: int = 3
                       ) -> dict[str, float]:
    """Median seconds per run of each model on ``image``, rounds alternating between models."""
    sessions = {name: session(path, threads) for name, path in models.items()}
    batch = np.asarray(image, dtype=np.float32)[None]
    samples: dict[str, list[float]] = {name: [] for name in models}
    for runner in sessions.values():
        runner.run([OUTPUT], {INPUT: batch})
    for _ in range(rounds):
        for name, runner in sessions.items():
            start = time.perf_counter()
            runner.run([OUTPUT], {INPUT: batch})
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def torch_from_onnx(path: str | os.PathLike) -> UNet3D:
    """An eager PyTorch U-Net carrying the exported ONNX weights (BatchNorm folded into the convolutions by
    the export), for like-for-like speed comparisons; convolutions are matched in graph order."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    levels = (len(convs) + 1) // 4  # two convolutions per block, 2 * levels - 1 blocks, one head
    widths = tuple(int(weights[node.input[1]].shape[0]) for node in convs[: 2 * levels : 2])
    model = UNet3D(NetConfig(in_channels=int(weights[convs[0].input[1]].shape[1]), widths=widths,
                             out_channels=int(weights[convs[-1].input[1]].shape[0])))
    modules = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d)]
    if len(modules) != len(convs):
        raise ValueError(f"{path}: {len(convs)} Conv nodes, the U-Net has {len(modules)} convolutions")
    for module, node in zip(modules, convs, strict=True):
        module.weight.data = torch.from_numpy(weights[node.input[1]].copy())
        bias = weights[node.input[2]] if len(node.input) > 2 else np.zeros(module.out_channels, np.float32)
        module.bias = torch.nn.Parameter(torch.from_numpy(bias.copy()))
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.BatchNorm3d):
                setattr(parent, child_name, torch.nn.Identity())
    return model.eval()
