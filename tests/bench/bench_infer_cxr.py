"""Benchmark: chest X-ray detector forward pass, ONNX Runtime (shipped model.onnx) against PyTorch eager.

Prints one line:

    BENCH infer_cxr ours=<ORT s/image> baseline=<torch eager s/image> ratio=<ours/baseline> threads=2 ...

- ours = the plugin's shipped model.onnx (INT8 or FP32, ``model=``) in the app's ONNX Runtime session
  (engine.ai.sessions options, 2 intra-op threads) on one prepared 512x512 radiograph; baseline = the same
  network in plain PyTorch eager mode (torch.inference_mode, torch.set_num_threads(2)) computing the same
  six outputs as the ONNX graph (training.cxr.model.ExportWrapper: heads, image logit, CAM, embedding) on
  the same input. Weights: the training checkpoint when build/cxr/run/best.pt exists, else a fresh NoduleNet
  of the same architecture (the cost does not depend on the weight values).
- ``fp32_ort`` / ``fp32_ratio``: the FP32 graph exported from those same weights (training.cxr.export, as
  the pipeline does) in the same kind of session, so an INT8 gain is not mistaken for a runtime gain.
- Each side is warmed up (first runs, allocations) before timing; then rounds alternate the sides
  (ours, fp32, baseline, ...) and the medians are reported (the machine is shared and noisy).
- ``others_cores``: CPU used by other processes during the timed rounds, in cores (from /proc/stat, Linux).
  With 2 threads on 2 cores, anything near 1 means a contended run: PyTorch's OpenMP threads then slow down
  far more than ONNX Runtime's non-spinning pool, so such a ratio flatters ours; measure on a quiet machine.
- ``plugin_s``: the whole plugin on a 2048x2048 phantom (preprocessing, ORT, decoding, CAM on the image
  grid, retrieval), through the runtime, median. Target: ratio <= 0.67 and ours <= 0.3 s on 2 cores.
Without PyTorch (the installed app) it prints a SKIP line and exits 0.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PLUGIN = REPO / "plugins" / "chest_xray_nodules"
CHECKPOINT = REPO / "build" / "cxr" / "run" / "best.pt"
THREADS, WARM_UP, ROUNDS = 2, 5, 40


def main() -> int:
    if importlib.util.find_spec("torch") is None:
        print("SKIP infer_cxr: PyTorch is not installed (the baseline is PyTorch eager)")
        return 0
    if not (PLUGIN / "model.onnx").is_file():
        print("SKIP infer_cxr: plugins/chest_xray_nodules/model.onnx is missing (run `make models`)")
        return 0
    import numpy as np
    import onnx
    import torch

    from engine.ai.hashing import sha256_file
    from engine.ai.registry import discover
    from engine.ai.runner import run_plugin
    from engine.ai.sessions import SessionCache
    from engine.preprocessing.cxr import prepare_cxr
    from training.cxr.export import export_onnx
    from training.cxr.model import ExportWrapper, NoduleNet
    from training.cxr.train import load_model
    from training.phantoms.chest_xray import make_chest_xray

    torch.set_num_threads(THREADS)
    case = make_chest_xray(900_003, size=2048)
    batch = np.ascontiguousarray(prepare_cxr(case.image).image[None, None], dtype=np.float32)
    registry = discover([PLUGIN.parent], entry_points=False)
    plugin = registry.get("chest_xray_nodules")
    model_path = plugin.model_path("detector")
    sessions = SessionCache(intra_op_threads=THREADS)
    session = sessions.get(model_path, plugin.manifest.model("detector").sha256)
    quantised = any(node.op_type == "QuantizeLinear" for node in onnx.load(str(model_path)).graph.node)
    model = load_model(CHECKPOINT) if CHECKPOINT.is_file() else NoduleNet().eval()
    wrapper = ExportWrapper(model).eval()
    tensor = torch.from_numpy(batch)

    with tempfile.TemporaryDirectory() as scratch:
        fp32_path = export_onnx(model, Path(scratch) / "model_fp32.onnx", batch.shape[-1])
        fp32_session = sessions.get(fp32_path, sha256_file(fp32_path))

        def ours() -> None:
            session.run(None, {"image": batch})

        def fp32_ort() -> None:
            fp32_session.run(None, {"image": batch})

        def baseline() -> None:
            with torch.inference_mode():
                wrapper(tensor)

        functions = {"ours": ours, "fp32_ort": fp32_ort, "baseline": baseline}
        for function in functions.values():
            for _ in range(WARM_UP):
                function()
        times: dict[str, list[float]] = {name: [] for name in functions}
        busy_before, own_before, wall_before = _busy_cpu_s(), _own_cpu_s(), time.perf_counter()
        for _ in range(ROUNDS):
            for name, function in functions.items():
                start = time.perf_counter()
                function()
                times[name].append(time.perf_counter() - start)
        busy_after, own_after, wall = _busy_cpu_s(), _own_cpu_s(), time.perf_counter() - wall_before
        others = "n/a" if busy_before is None or busy_after is None else \
            f"{max(0.0, (busy_after - busy_before) - (own_after - own_before)) / wall:.2f}"
        plugin_times = []
        for _ in range(5):
            start = time.perf_counter()
            run_plugin("chest_xray_nodules", {"radiograph": case.volume()}, registry=registry, sessions=sessions,
                       audit_log=Path(scratch) / "audit.jsonl")
            plugin_times.append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    weights = "checkpoint" if CHECKPOINT.is_file() else "random"
    print(f"BENCH infer_cxr ours={median['ours']:.4f} baseline={median['baseline']:.4f} "
          f"ratio={median['ours'] / median['baseline']:.3f} threads={THREADS} input=1x1x512x512 "
          f"model={'int8' if quantised else 'fp32'} fp32_ort={median['fp32_ort']:.4f} "
          f"fp32_ratio={median['fp32_ort'] / median['baseline']:.3f} rounds={ROUNDS} others_cores={others} "
          f"weights={weights} plugin_s={statistics.median(plugin_times):.3f} image=2048x2048")
    return 0


def _busy_cpu_s() -> float | None:
    """Seconds of CPU time all processes have used since boot (non-idle), or None off Linux."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def _own_cpu_s() -> float:
    return time.process_time()  # every thread of this process (ORT's and OpenMP's)


if __name__ == "__main__":
    raise SystemExit(main())
