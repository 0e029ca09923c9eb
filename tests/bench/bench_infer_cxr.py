"""Benchmark: chest X-ray detector forward pass, ONNX Runtime (shipped model.onnx) against PyTorch eager.

Prints one line:

    BENCH infer_cxr ours=<ORT s/image> baseline=<torch eager s/image> ratio=<ours/baseline> threads=2 ...

- ours = the plugin's ONNX Runtime session (engine session options, 2 intra-op threads) on one prepared
  512x512 radiograph; baseline = the same network in PyTorch eager mode (torch.no_grad, 2 threads) on the
  same input. Weights: the training checkpoint when build/cxr/run/best.pt exists, else a fresh NoduleNet of
  the same architecture (the cost does not depend on the weight values). Alternating runs, medians.
- ``plugin_s``: the whole plugin on a 2048x2048 phantom (preprocessing, ORT, decoding, CAM on the image
  grid, retrieval), through the runtime, median. Target: ratio <= 0.67 and ours <= 0.3 s on 2 cores.
Without PyTorch (the installed app) it prints a SKIP line and exits 0.
"""

from __future__ import annotations

import importlib.util
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
THREADS, ROUNDS = 2, 15


def main() -> int:
    if importlib.util.find_spec("torch") is None:
        print("SKIP infer_cxr: PyTorch is not installed (the baseline is PyTorch eager)")
        return 0
    if not (PLUGIN / "model.onnx").is_file():
        print("SKIP infer_cxr: plugins/chest_xray_nodules/model.onnx is missing (run `make models`)")
        return 0
    import torch

    from engine.ai.registry import discover
    from engine.ai.runner import run_plugin
    from engine.ai.sessions import SessionCache
    from engine.preprocessing.cxr import prepare_cxr
    from training.cxr.model import NoduleNet
    from training.cxr.train import load_model
    from training.phantoms.chest_xray import make_chest_xray

    torch.set_num_threads(THREADS)
    case = make_chest_xray(900_003, size=2048)
    batch = prepare_cxr(case.image).image[None, None]
    registry = discover([PLUGIN.parent], entry_points=False)
    plugin = registry.get("chest_xray_nodules")
    sessions = SessionCache(intra_op_threads=THREADS)
    session = sessions.get(plugin.model_path("detector"), plugin.manifest.model("detector").sha256)
    model = load_model(CHECKPOINT) if CHECKPOINT.is_file() else NoduleNet().eval()
    tensor = torch.from_numpy(batch)

    def ours() -> None:
        session.run(None, {"image": batch})

    def baseline() -> None:
        with torch.no_grad():
            model(tensor)

    for warm in (ours, baseline, ours, baseline):
        warm()
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for _ in range(ROUNDS):
        for name, function in (("ours", ours), ("baseline", baseline)):
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as scratch:
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
          f"weights={weights} plugin_s={statistics.median(plugin_times):.3f} image=2048x2048")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
