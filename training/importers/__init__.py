"""Importers: turn a model trained elsewhere (nnU-Net v2, MONAI bundle) into a declarative ONNX plugin."""
