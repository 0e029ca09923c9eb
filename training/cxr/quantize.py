"""Static INT8 quantisation (QDQ, S8S8, per-channel weights) of the exported detector, calibrated on
training images, and the FP32-vs-INT8 speed comparison that decides whether INT8 ships.

Activation zero points are stored as uint8 (``zp + 128``, the same shift for every quantised value, so the
QDQ graph computes exactly the numbers of the S8S8 model). ONNX Runtime's x86 CPU kernels (QLinearConv,
QLinearAdd) are fast with uint8 activations; its int8-activation kernels (``session.qdqisint8allowed``) ran
this model several times slower than FP32. It converts an S8 Q/DQ pair to U8 at load time itself, but only
where the QuantizeLinear has a single consumer, so every residual branch point and the shared head features
stayed int8 and the convolutions next to them ran as DequantizeLinear -> float Conv -> QuantizeLinear: with
15 of 21 convolutions unfused, the INT8 model was slower than FP32. Stored as uint8, all of them fuse. The
weights stay int8 per channel; the stem convolution stays FP32 (see :func:`quantize`). On x86 CPUs without
VNNI, u8 x s8 products go through VPMADDUBSW, whose int16 pair sums can saturate; ONNX Runtime's own
S8 -> U8 conversion has the same property.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from engine.ai.sessions import cpu_session


class _Images(CalibrationDataReader):
    """Feeds calibration images one at a time."""

    def __init__(self, images: np.ndarray) -> None:
        self._items = iter(np.asarray(images, dtype=np.float32)[:, None, None])

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._items, None)
        return None if item is None else {"image": item}


def quantize(fp32_path: str | os.PathLike, int8_path: str | os.PathLike, calibration: np.ndarray) -> Path:
    """Write the INT8 QDQ model (activations and weights QInt8, per-channel) calibrated on ``calibration``,
    with the activation zero points then stored as uint8 (:func:`activations_to_uint8`).

    The first convolution (the stem, reading the one-channel image) stays FP32: with 9 weights per output
    value QLinearConv ran it about 4x slower than the FP32 NCHWc kernel (a fifth of the INT8 run time), and
    the input image is then not rounded to 8 bits."""
    target = Path(int8_path)
    prepared = target.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared))
    try:
        quantize_static(str(prepared), str(target), _Images(calibration), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
                        nodes_to_exclude=input_convolutions(onnx.load(str(prepared))))
    finally:
        prepared.unlink(missing_ok=True)
    model = activations_to_uint8(onnx.load(str(target)))
    onnx.save(model, str(target))
    return target


def input_convolutions(model: onnx.ModelProto) -> list[str]:
    """Names of the Conv nodes that read a graph input directly."""
    inputs = {value.name for value in model.graph.input}
    return [node.name for node in model.graph.node if node.op_type == "Conv" and node.input[0] in inputs]


def activations_to_uint8(model: onnx.ModelProto) -> onnx.ModelProto:
    """Store every activation QuantizeLinear/DequantizeLinear pair's scalar int8 zero point as uint8
    (``zp + 128``): q_u8 = q_s8 + 128 for every value (saturation included), so the graph computes the same
    numbers. Weight (initializer) quantisation stays int8. Returns the checked model."""
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    zero_points = {node.input[2] for node in model.graph.node
                   if node.op_type == "QuantizeLinear" and len(node.input) > 2 and node.input[0] not in initializers}
    for name in sorted(zero_points):
        value = numpy_helper.to_array(initializers[name])
        if value.dtype != np.int8 or value.size != 1:
            raise ValueError(f"activation zero point {name} is {value.dtype}{list(value.shape)}, expected one int8")
        initializers[name].CopyFrom(numpy_helper.from_array((value.astype(np.int16) + 128).astype(np.uint8), name))
    del model.graph.value_info[:]  # the quantised tensors' element types changed; inferred again below
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    return model


def seconds_per_image(model_path: str | os.PathLike, images: np.ndarray, threads: int = 2, repeats: int = 3
                      ) -> float:
    """Median seconds per single-image run (after one warm-up run) with the app's session options
    (engine.ai.sessions) and ``threads`` intra-op threads."""
    session = cpu_session(model_path, threads)
    batch = np.asarray(images, dtype=np.float32)[:, None, None]
    session.run(None, {"image": batch[0]})
    times = []
    for _ in range(repeats):
        for item in batch:
            start = time.perf_counter()
            session.run(None, {"image": item})
            times.append(time.perf_counter() - start)
    return statistics.median(times)
