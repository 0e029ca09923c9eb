"""Preprocessing shared by training and inference (one function per modality, so there is no train/serve skew)."""
