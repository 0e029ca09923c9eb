"""Coronary artery calcium: exact Agatston / volume / mass scoring, risk categories and lesion candidates.

Qt-free and torch-free (ARCHITECTURE §1): the `sightline calcium-score` command, the coronary-calcium plugin and
the training code all score with these functions, so the rules live in one place (engine.calcium.rules).
"""
