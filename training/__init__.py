"""Model training for Sightline: phantoms, dataset readers, models, ONNX export.

May import engine, never app.
"""
