"""Benchmark: coronary calcium inference per study on a 512 x 512 x 48 phantom CT (2 threads).

ours     = the plugin path: candidates + inputs (the calcium plugin) + the shipped ONNX classifier in ONNX Runtime
           + exact per-artery scoring of the resulting label map
baseline = the same pipeline with the classifier run in PyTorch eager mode from the exported graph's
           checkpoint (build/calcium/run/best.pt, training.calcium.model.LesionNet);
           without torch the baseline is the threshold-only scorer (every >= 130 HU voxel of the body).
Median of 5 runs each, alternating, same process. Prints one line:
    BENCH infer_cac ours=<s per study> baseline=<s> ratio=<ours/baseline> baseline_kind=<torch|threshold>
Run: python tests/bench/bench_infer_cac.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import onnxruntime as ort  # noqa: E402

from plugins.coronary_calcium_ct.candidates import body_mask, find_candidates  # noqa: E402
from plugins.coronary_calcium_ct.features import candidate_inputs  # noqa: E402
from plugins.coronary_calcium_ct.scoring import find_lesions, score_arteries, score_lesions  # noqa: E402
from training.phantoms.cardiac_ct import make_cardiac_ct  # noqa: E402

MODEL = ROOT / "plugins" / "coronary_calcium_ct" / "model.onnx"
CHECKPOINT = ROOT / "build" / "calcium" / "run" / "best.pt"
RUNS, THREADS = 5, 2


def pipeline(hu: np.ndarray, geometry, classify) -> float:
    candidates = find_candidates(hu, geometry)
    inputs = candidate_inputs(hu, geometry, candidates)
    classes = classify(inputs).argmax(axis=1) if candidates.items else np.zeros(0, dtype=int)
    labels = np.concatenate([[0], classes]).astype(np.uint8)[candidates.components]
    return score_arteries(hu, labels, geometry).total.agatston


def main() -> None:
    case = make_cardiac_ct(424_242, size=512, slices=48)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
    session = ort.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])

    def ours() -> float:
        return pipeline(case.hu, case.geometry, lambda inputs: session.run(["logits"], inputs)[0])

    try:
        import torch

        from training.calcium.train import load_model

        torch.set_num_threads(THREADS)
        model = load_model(CHECKPOINT)
        kind = "torch"

        def baseline() -> float:
            with torch.no_grad():
                return pipeline(case.hu, case.geometry, lambda inputs: model(
                    *(torch.from_numpy(inputs[k]) for k in ("local", "context", "scalars")))[0].numpy())
    except (ImportError, FileNotFoundError):
        kind = "threshold"

        def baseline() -> float:
            region = body_mask(case.hu)
            return score_lesions(find_lesions(case.hu, region, case.geometry), case.geometry).agatston

    ours()
    baseline()
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for _ in range(RUNS):
        for name, function in (("ours", ours), ("baseline", baseline)):
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    ours_s, baseline_s = statistics.median(times["ours"]), statistics.median(times["baseline"])
    print(f"BENCH infer_cac ours={ours_s:.4f} baseline={baseline_s:.4f} ratio={ours_s / baseline_s:.3f} "
          f"baseline_kind={kind}")


if __name__ == "__main__":
    main()
