"""Coronary calcium: candidate-lesion artery classifier trained on cardiac CT phantoms (or real CT + masks)."""
