"""Static INT8 quantisation (QDQ, S8S8, per-channel weights) calibrated on training candidates, and the
FP32-vs-INT8 timing used to decide whether INT8 ships."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from engine.ai.sessions import cpu_session
from training.calcium.export import onnx_inputs
from training.calcium.train import Arrays


class _Batches(CalibrationDataReader):
    """Feeds calibration candidates in batches of 16."""

    def __init__(self, data: Arrays) -> None:
        inputs = onnx_inputs(data)
        self._items = iter([{k: v[i:i + 16] for k, v in inputs.items()} for i in range(0, len(data), 16)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def quantize(fp32_path: str | os.PathLike, int8_path: str | os.PathLike, calibration: Arrays) -> Path:
    """Write the INT8 QDQ model (activations and weights QInt8, per-channel) calibrated on ``calibration``."""
    target = Path(int8_path)
    prepared = target.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared))
    try:
        quantize_static(str(prepared), str(target), _Batches(calibration), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        prepared.unlink(missing_ok=True)
    return target


def session(path: str | os.PathLike, threads: int = 2) -> ort.InferenceSession:
    """A CPU session with the app's options and ``threads`` intra-op threads."""
    return cpu_session(path, threads)


def seconds_per_case(paths: dict[str, Path], cases: list[Arrays], rounds: int = 3) -> dict[str, float]:
    """Median seconds to classify all candidates of one case, per model, in alternating rounds."""
    sessions = {name: session(path) for name, path in paths.items()}
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for warm in sessions.values():
        warm.run(None, onnx_inputs(cases[0]))
    for _ in range(rounds):
        for name, s in sessions.items():
            for case in cases:
                start = time.perf_counter()
                s.run(None, onnx_inputs(case))
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}
