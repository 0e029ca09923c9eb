"""Benchmark: an imported nnU-Net v2 model, our runtime against nnU-Net's own CPU predictor.

The tiny nnU-Net results folder of the parity test (tests/training/nnunet_fixture.py: PlainConvUNet,
3d_fullres, patch 8x16x16, CTNormalization, separate-z resampling, mirroring on) on a larger oblique,
anisotropic phantom (40x56x18 voxels) saved as NIfTI.
ours     = read the NIfTI, run the imported plugin through engine.ai.runner.run_plugin (ONNX Runtime,
           the declared pipeline, suitability/domain/audit), write the label map as NIfTI;
baseline = nnUNetPredictor.predict_from_files_sequential on the same file (PyTorch eager, same folds,
           same mirroring), which also reads the NIfTI and writes the label map.
Both with the same number of threads (torch.set_num_threads / ORT intra-op threads; BENCH_THREADS, default 1).
Median of 3
alternating rounds after one warm-up each. Prints one line:
    BENCH infer_imported ours=<s> baseline=<s> ratio=<ours/baseline> threads=<n> dice_min=<lowest label Dice>
          voxel_agreement=<fraction of voxels with the same label>
Run: python tests/bench/bench_infer_imported.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "training"))

THREADS = int(os.environ.get("BENCH_THREADS", "1"))  # 1 by default: on a shared machine more OpenMP threads
ROUNDS = 3                                            # than free cores make PyTorch's timing erratic
SHAPE = (40, 56, 18)


def main() -> None:
    import torch

    torch.set_num_threads(THREADS)
    scratch = Path(tempfile.mkdtemp(prefix="bench_imported_"))
    os.environ.setdefault("SIGHTLINE_HOME", str(scratch / "home"))
    from nnunet_fixture import phantom, write_results_folder
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    from engine.ai.registry import discover
    from engine.ai.runner import run_plugin
    from engine.ai.sessions import SessionCache
    from engine.nifti import read_nifti, write_nifti
    from training.importers.nnunet import import_nnunet

    volume, truth = phantom(SHAPE)
    results, image = write_results_folder(scratch, volume, truth)
    plugin = import_nnunet(results, scratch / "plugins" / "imported", plugin="imported")
    registry = discover([plugin.parent], entry_points=False)
    sessions = SessionCache(intra_op_threads=THREADS)
    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=True, device=torch.device("cpu"),
                                perform_everything_on_device=False, verbose=False, verbose_preprocessing=False,
                                allow_tqdm=False)
    predictor.initialize_from_trained_model_folder(str(results), use_folds=(0,))
    (scratch / "nnunet").mkdir()

    def ours() -> np.ndarray:
        loaded = read_nifti(image, modality="CT")
        result = run_plugin("imported", {"CT": loaded}, registry=registry, sessions=sessions,
                            audit_log=scratch / "audit.jsonl")
        assert result.label_map is not None
        write_nifti(result.label_map, scratch / "ours.nii.gz")
        return result.label_map.array

    def baseline() -> np.ndarray:
        predictor.predict_from_files_sequential([[str(image)]], str(scratch / "nnunet"), save_probabilities=False,
                                                overwrite=True, folder_with_segs_from_prev_stage=None)
        return read_nifti(scratch / "nnunet" / "case.nii.gz").array

    runs = {"ours": ours, "baseline": baseline}
    outputs = {}
    for name, run in runs.items():  # warm-up
        start = time.perf_counter()
        outputs[name] = run()
        print(f"warm-up {name}: {time.perf_counter() - start:.2f} s", file=sys.stderr, flush=True)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(ROUNDS):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    dice = []
    for value in (1, 2):
        a, b = outputs["ours"] == value, outputs["baseline"] == value
        total = int(a.sum() + b.sum())
        dice.append(2 * float((a & b).sum()) / total if total else 1.0)
    agreement = float(np.mean(outputs["ours"] == outputs["baseline"]))
    ours_s, base_s = statistics.median(times["ours"]), statistics.median(times["baseline"])
    print(f"BENCH infer_imported ours={ours_s:.3f} baseline={base_s:.3f} ratio={ours_s / base_s:.3f} "
          f"threads={THREADS} dice_min={min(dice):.4f} voxel_agreement={agreement:.5f}")


if __name__ == "__main__":
    main()
