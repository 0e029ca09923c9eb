"""ONNX Runtime session cache and options, and sliding-window / batched inference with cancellation."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from engine.ai.sessions import SessionCache, choose_providers, physical_cores, session_options
from engine.ai.tiling import gaussian_importance, run_batched, sliding_window, tile_starts
from engine.progress import Cancelled, CancelToken


def test_session_options_keep_the_ui_responsive() -> None:
    options = session_options(3)
    assert options.intra_op_num_threads == 3
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert session_options().intra_op_num_threads == physical_cores() >= 1


def test_providers_prefer_gpu_and_always_fall_back_to_cpu() -> None:
    assert choose_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    everything = ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    assert choose_providers(everything) == everything[::-1]
    assert choose_providers(["CUDAExecutionProvider"]) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers()[-1] == "CPUExecutionProvider"


def test_cache_reuses_sessions_per_path_and_hash(make_model) -> None:
    path, sha = make_model(factor=3.0)
    cache = SessionCache(intra_op_threads=1)
    session = cache.get(path, sha)
    assert cache.get(path, sha) is session
    assert cache.get(path, "f" * 64) is not session and len(cache) == 2
    image = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    (output,) = session.run(None, {"image": image})
    np.testing.assert_allclose(output, 3.0 * image)
    cache.clear()
    assert len(cache) == 0


def test_gaussian_importance_peaks_in_the_centre_and_never_vanishes() -> None:
    weights = gaussian_importance((8, 9))
    assert weights.dtype == np.float32 and weights.shape == (8, 9)
    assert weights.max() == pytest.approx(1.0, abs=0.02) and weights.min() >= 1e-3
    assert weights[4, 4] > weights[0, 4] and np.allclose(weights, weights[::-1, ::-1])


def test_tile_starts_cover_the_axis_with_the_last_tile_flush() -> None:
    assert tile_starts(10, 4, 0.5) == [0, 2, 4, 6]
    assert tile_starts(11, 4, 0.5) == [0, 2, 4, 6, 7]
    assert tile_starts(3, 4, 0.5) == [0]
    assert tile_starts(8, 4, 0.0) == [0, 4]


@pytest.mark.parametrize(
    ("shape", "window", "batch_size"),
    [
        ((1, 23, 17), (8, 8), 1),
        ((2, 9, 13, 11), (4, 8, 8), 3),
        ((1, 3, 5), (8, 8), 2),  # smaller than the window: padded, then cropped
    ],
)
def test_sliding_window_with_an_identity_model_returns_the_image(shape, window, batch_size) -> None:
    image = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    output = sliding_window(image, window, lambda tiles: tiles, overlap=0.5, batch_size=batch_size)
    assert output.shape == shape
    np.testing.assert_allclose(output, image, rtol=1e-5, atol=1e-5)


def test_sliding_window_runs_a_real_onnx_model_tile_by_tile(make_model) -> None:
    path, sha = make_model(factor=2.0, spatial_dims=3)
    session = SessionCache(intra_op_threads=1).get(path, sha)
    image = np.random.default_rng(2).normal(size=(1, 10, 21, 19)).astype(np.float32)
    calls = []

    def predict(tiles: np.ndarray) -> np.ndarray:
        calls.append(tiles.shape)
        return session.run(["logits"], {"image": tiles})[0]

    progress = []
    output = sliding_window(
        image,
        (8, 16, 16),
        predict,
        overlap=0.25,
        batch_size=2,
        progress=lambda done, total, message: progress.append((done, total)),
    )
    np.testing.assert_allclose(output, 2.0 * image, rtol=1e-5, atol=1e-5)
    n_tiles = len(tile_starts(10, 8, 0.25)) * len(tile_starts(21, 16, 0.25)) * len(tile_starts(19, 16, 0.25))
    assert sum(shape[0] for shape in calls) == n_tiles
    assert progress[-1] == (n_tiles, n_tiles) and len(progress) == len(calls)


def test_sliding_window_stops_between_tiles_when_cancelled() -> None:
    cancel = CancelToken()
    seen = []

    def predict(tiles: np.ndarray) -> np.ndarray:
        seen.append(1)
        cancel.cancel()
        return tiles

    with pytest.raises(Cancelled):
        sliding_window(np.zeros((1, 32, 32), np.float32), (8, 8), predict, cancel=cancel)
    assert len(seen) == 1


def test_sliding_window_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="does not match"):
        sliding_window(np.zeros((1, 8, 8)), (4, 4, 4), lambda t: t)
    with pytest.raises(ValueError, match="overlap"):
        sliding_window(np.zeros((1, 8, 8)), (4, 4), lambda t: t, overlap=1.0)
    with pytest.raises(ValueError, match="predictor returned"):
        sliding_window(np.zeros((1, 8, 8)), (4, 4), lambda t: t[:, :, :2])


def test_run_batched_reports_progress_and_honours_cancel() -> None:
    items = np.arange(10, dtype=np.float32)[:, None]
    progress = []
    out = run_batched(items, lambda batch: batch * 2, 4, progress=lambda d, t, m: progress.append(d))
    np.testing.assert_array_equal(out, items * 2)
    assert progress == [4, 8, 10]
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        run_batched(items, lambda batch: cancel.cancel() or batch, 4, cancel=cancel)
