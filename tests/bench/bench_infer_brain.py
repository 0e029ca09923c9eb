"""Benchmark: brain_tumor_mri inference per study (1 mm 160x192x160 four-sequence phantom, the sample study's grid).

ours     = the plugin's path: its preprocessing (co-registration check, 2 mm model grid, z-scores), sliding
           window (64^3 tiles, Gaussian blending) with ONNX Runtime on the shipped model.onnx, resampling back
           to 1 mm, labels from regions; 2 intra-op threads.
baseline = the same path with the predictor swapped for PyTorch eager on the same weights
           (training.brain.export.torch_from_onnx), 2 threads. Skipped (baseline=0, ratio=0) without torch/onnx.
Median of 3 alternating rounds after one warm-up each. Prints one line:
    BENCH infer_brain ours=<s per study> baseline=<s> ratio=<ours/baseline> tiles=<n>
Run: python tests/bench/bench_infer_brain.py
"""

from __future__ import annotations

import statistics
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.ai.tiling import tile_starts  # noqa: E402
from plugins.brain_tumor_mri.preprocessing import SEQUENCES, labels_from_regions, prepare_brain, segment  # noqa: E402
from training.phantoms.brain_mri import make_brain_mri  # noqa: E402

PLUGIN = ROOT / "plugins" / "brain_tumor_mri"
THREADS, ROUNDS = 2, 3


def main() -> None:
    import onnxruntime as ort

    settings = tomllib.loads((PLUGIN / "manifest.toml").read_text())["preprocessing"]
    window, overlap = [int(n) for n in settings["window"]], float(settings["overlap"])
    case = make_brain_mri(12)
    volumes = {name: case.volume(name) for name in SEQUENCES}
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
    session = ort.InferenceSession(str(PLUGIN / "model.onnx"), options, providers=["CPUExecutionProvider"])

    def ours() -> np.ndarray:
        prepared = prepare_brain(volumes, float(settings["spacing_mm"]))
        logits = segment(prepared, lambda tiles: session.run(["logits"], {"image": tiles})[0], window, overlap)
        return labels_from_regions(logits > 0)

    runs = {"ours": ours}
    eager = torch_runner(window, overlap, settings)
    if eager is not None:
        runs["baseline"] = eager
    times: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():  # warm-up
        run()
    for _ in range(ROUNDS):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    ours_s = statistics.median(times["ours"])
    base_s = statistics.median(times["baseline"]) if "baseline" in times else 0.0
    grid = prepare_brain(volumes).grid.shape
    tiles = int(np.prod([len(tile_starts(s, w, overlap)) for s, w in zip(grid, window, strict=True)]))
    ratio = ours_s / base_s if base_s else 0.0
    print(f"BENCH infer_brain ours={ours_s:.3f} baseline={base_s:.3f} ratio={ratio:.3f} tiles={tiles}")


def torch_runner(window: list[int], overlap: float, settings: dict):
    """The same path with PyTorch eager on the same weights, or None without torch / onnx."""
    try:
        import onnx  # noqa: F401
        import torch
    except ImportError:
        print("torch or onnx not installed: baseline skipped", file=sys.stderr)
        return None
    from training.brain.export import torch_from_onnx

    torch.set_num_threads(THREADS)
    model = torch_from_onnx(PLUGIN / "model.onnx")
    case = make_brain_mri(12)
    volumes = {name: case.volume(name) for name in SEQUENCES}

    def predictor(tiles: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(tiles)).numpy()

    def run() -> np.ndarray:
        prepared = prepare_brain(volumes, float(settings["spacing_mm"]))
        return labels_from_regions(segment(prepared, predictor, window, overlap) > 0)

    return run


if __name__ == "__main__":
    main()
