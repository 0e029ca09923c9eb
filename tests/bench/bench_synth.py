"""Benchmark: one CCELLA volume (text encoder + 50 DDIM steps + decoder) with the shipped ONNX models on
2 threads, against the 5 s target, and ONNX Runtime against the same loop in PyTorch.

ours     = plugins.prostate_synthesis.runner.synthesize (the app path), median of 3 runs after a warm-up
baseline = line 1: the 5 s target; line 2: the PyTorch models of build/ccella (same sampler and guidance,
           2 threads, text features from the same ONNX encoder), skipped cleanly without torch or checkpoints
Prints:
    BENCH synth_50_steps ours=<s> baseline=5.0 ratio=<ours/target> threads=2
    BENCH synth_onnx_vs_torch ours=<s> baseline=<s> ratio=<onnx/torch>
Run: python tests/bench/bench_synth.py
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.ai.registry import discover  # noqa: E402
from engine.ai.sessions import SessionCache  # noqa: E402
from plugins.prostate_synthesis.runner import synthesize  # noqa: E402
from plugins.prostate_synthesis.types import DEFAULT_GUIDANCE, SynthesisRequest  # noqa: E402

THREADS, STEPS, REPEATS, TARGET_S = 2, 50, 3, 5.0
PROMPT = ("Axial T2: markedly hypointense lesion of 18 mm centred in the left peripheral zone (mid gland). "
          "Conclusion: PI-RADS 5.")


def onnx_seconds(audit_log: Path) -> float:
    registry = discover([REPO / "plugins"], entry_points=False)
    sessions = SessionCache(intra_op_threads=THREADS)
    request = SynthesisRequest(PROMPT, seed=0, steps=STEPS)
    synthesize(request, registry=registry, sessions=sessions, audit_log=audit_log)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        synthesize(request, registry=registry, sessions=sessions, audit_log=audit_log)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_seconds() -> float | None:
    work = REPO / "build" / "ccella"
    if importlib.util.find_spec("torch") is None or not (work / "diffusion_ccella.pt").exists():
        return None
    import torch

    from training.ccella.diffusion import ddim_sample
    from training.ccella.text_encoder import OnnxTextEncoder
    from training.ccella.train_autoencoder import load_autoencoder
    from training.ccella.train_diffusion import PHANTOM_SPACING, load_denoiser

    torch.set_num_threads(THREADS)
    encoder = OnnxTextEncoder(work / "text" / "text_encoder.onnx", work / "text" / "tokenizer.json", THREADS)
    model, autoencoder = load_denoiser("ccella", work), load_autoencoder(work)

    def once() -> None:  # the same work as the app: report and missing report encoded, guided sampling
        features, mask = encoder([PROMPT])
        latent, _ = ddim_sample(model, [0], features, mask, np.array([PHANTOM_SPACING]), np.zeros((1, 2)),
                                np.zeros((1, 1)), STEPS, DEFAULT_GUIDANCE, encoder([""]))
        with torch.no_grad():
            autoencoder.decode(torch.from_numpy(latent))

    once()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        ours = onnx_seconds(Path(scratch) / "audit.jsonl")
    print(f"BENCH synth_50_steps ours={ours:.4f} baseline={TARGET_S:.1f} ratio={ours / TARGET_S:.3f} "
          f"threads={THREADS}")
    baseline = torch_seconds()
    if baseline is None:
        print("# PyTorch part skipped (no torch or no build/ccella checkpoints)")
        return
    print(f"BENCH synth_onnx_vs_torch ours={ours:.4f} baseline={baseline:.4f} ratio={ours / baseline:.3f}")


if __name__ == "__main__":
    main()
