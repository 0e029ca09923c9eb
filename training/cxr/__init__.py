"""Chest X-ray nodule detector: phantom data, real-format readers, model, training, export, evaluation."""
