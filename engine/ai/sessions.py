"""ONNX Runtime sessions: options tuned for a desktop (no spinning threads), provider choice, and a cache.

Sessions are keyed by (resolved model path, SHA-256), so a model is parsed and optimised once per process
and a changed file (with its new manifest hash) gets a new session.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import onnxruntime as ort

# Preferred execution providers, best first; CPU is always the last resort.
PROVIDER_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads do not help inference), at least 1."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return max(1, allowed)
    cores, physical_id = set(), ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "physical id":
            physical_id = value.strip()
        elif key.strip() == "core id":
            cores.add((physical_id, value.strip()))
    return max(1, min(allowed, len(cores) or allowed))


def session_options(intra_op_threads: int | None = None) -> ort.SessionOptions:
    """Full graph optimisation, ``intra_op_threads`` (default: physical cores), sequential execution, and no
    busy-waiting threads so the user interface stays responsive while a model runs.

    Measured on the chest X-ray detector (2 cores): ORT_ENABLE_ALL (its blocked NCHWc convolution layout) ran
    1.5x faster than ORT_ENABLE_EXTENDED; spinning worker threads made a run about twice as slow whenever
    another process used a core (as the viewer's own threads do), so they stay off; the plugins' graphs have
    little independent work to overlap, so nodes run one after another."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads or physical_cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def cpu_session(model_path: str | os.PathLike, intra_op_threads: int | None = None) -> ort.InferenceSession:
    """A CPU session with the app's options, for training, evaluation and tools (no hash check, no cache):
    a model is measured on the very runtime settings it is served with."""
    return ort.InferenceSession(str(model_path), session_options(intra_op_threads),
                                providers=["CPUExecutionProvider"])


def choose_providers(available: list[str] | None = None) -> list[str]:
    """TensorRT / CUDA when this onnxruntime build has them, always ending with the CPU fallback."""
    available = ort.get_available_providers() if available is None else available
    chosen = [name for name in PROVIDER_PREFERENCE if name in available]
    return chosen if "CPUExecutionProvider" in chosen else [*chosen, "CPUExecutionProvider"]


class SessionCache:
    """Thread-safe cache of InferenceSessions keyed by (model path, SHA-256)."""

    def __init__(self, intra_op_threads: int | None = None, providers: list[str] | None = None) -> None:
        self._intra_op_threads = intra_op_threads
        self._providers = providers
        self._sessions: dict[tuple[str, str], ort.InferenceSession] = {}
        self._lock = threading.Lock()

    def get(self, model_path: str | os.PathLike, sha256: str) -> ort.InferenceSession:
        """The session for this model file, created on first request. Verify the hash before calling."""
        key = (str(Path(model_path).resolve()), sha256)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = ort.InferenceSession(
                    key[0],
                    sess_options=session_options(self._intra_op_threads),
                    providers=self._providers or choose_providers(),
                )
                self._sessions[key] = session
            return session

    def __len__(self) -> int:
        return len(self._sessions)

    def clear(self) -> None:
        """Drop every session (frees model memory)."""
        with self._lock:
            self._sessions.clear()


_shared: SessionCache | None = None


def shared_cache() -> SessionCache:
    """The process-wide cache that run_plugin uses by default."""
    global _shared
    if _shared is None:
        _shared = SessionCache()
    return _shared
