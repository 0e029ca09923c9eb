"""The AI plugin runtime: manifests, registry, ONNX sessions, calibration, results, exports, audit, retrieval.

Qt-free and torch-free. Submodules are imported where used (``from engine.ai.runner import run_plugin``),
so importing this package costs nothing.
"""
