"""Static INT8 quantisation (QDQ, S8S8, per-channel weights) of the exported detector, calibrated on
training images, and the FP32-vs-INT8 speed comparison that decides whether INT8 ships."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process


class _Images(CalibrationDataReader):
    """Feeds calibration images one at a time."""

    def __init__(self, images: np.ndarray) -> None:
        self._items = iter(np.asarray(images, dtype=np.float32)[:, None, None])

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._items, None)
        return None if item is None else {"image": item}


def quantize(fp32_path: str | os.PathLike, int8_path: str | os.PathLike, calibration: np.ndarray) -> Path:
    """Write the INT8 QDQ model (activations and weights QInt8, per-channel) calibrated on ``calibration``."""
    target = Path(int8_path)
    prepared = target.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared))
    try:
        quantize_static(str(prepared), str(target), _Images(calibration), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        prepared.unlink(missing_ok=True)
    return target


def seconds_per_image(model_path: str | os.PathLike, images: np.ndarray, threads: int = 2, repeats: int = 3
                      ) -> float:
    """Median seconds per single-image run (after one warm-up) with ``threads`` intra-op threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    batch = np.asarray(images, dtype=np.float32)[:, None, None]
    session.run(None, {"image": batch[0]})
    times = []
    for _ in range(repeats):
        for item in batch:
            start = time.perf_counter()
            session.run(None, {"image": item})
            times.append(time.perf_counter() - start)
    return statistics.median(times)
