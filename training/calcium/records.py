"""One case -> one training / evaluation record: candidate inputs, their artery targets and calcium scores,
the reference (label map) scores and the threshold-only baseline. Phantoms and real datasets both go
through ``case_record`` so that they are prepared exactly as the plugin prepares a study."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry
from plugins.coronary_calcium_ct.candidates import Candidates, find_candidates
from plugins.coronary_calcium_ct.features import candidate_inputs
from plugins.coronary_calcium_ct.rules import ARTERIES, DEFAULT_RULES, ScoringRules
from plugins.coronary_calcium_ct.scoring import find_lesions, score_arteries, score_lesions

CLASSES = ("non-coronary", *ARTERIES.values())  # class index = artery label value, 0 = non-coronary
BASELINE_RADII_MM = (50.0, 60.0, 70.0)
THUMBNAIL = 64
THUMBNAIL_FIELD_MM = 180.0
_CONNECT_26 = np.ones((3, 3, 3), dtype=bool)


@dataclass
class CaseRecord:
    """Arrays of one case (saved as one .npz in the cache)."""

    case_id: str
    local: np.ndarray  # (n, 3, 32, 32)
    context: np.ndarray  # (n, 3, 64, 64)
    scalars: np.ndarray  # (n, 8)
    target: np.ndarray  # (n,) class index
    cand_scores: np.ndarray  # (n, 3) Agatston, volume mm^3, mass mg of each candidate
    cand_voxel: np.ndarray  # (n, 3) peak voxel
    truth_scores: np.ndarray  # (4, 3) reference per artery: Agatston, volume, mass
    baseline_agatston: np.ndarray  # (3,) candidates in heart spheres of BASELINE_RADII_MM (nan: no centre)
    plaque_artery: np.ndarray  # (p,) reference 3D lesions (connected pieces of the label map's calcium)
    plaque_candidate: np.ndarray  # (p,) index of the candidate holding most of it, -1 if none
    plaque_agatston: np.ndarray  # (p,)
    thumbnail: np.ndarray  # (64, 64) uint8, axial plane through the heart centre

    def arrays(self) -> dict[str, np.ndarray]:
        return {key: np.asarray(value) for key, value in self.__dict__.items()}


def case_record(case_id: str, hu: np.ndarray, geometry: Geometry, labels: np.ndarray,
                heart_centre_lps: tuple[float, float, float] | None = None,
                rules: ScoringRules = DEFAULT_RULES,
                select: Callable[[Candidates, np.ndarray], Candidates] | None = None) -> CaseRecord:
    """The record of a CT (HU) with its reference artery label map (0 bg, 1 LM, 2 LAD, 3 LCX, 4 RCA).

    ``select(candidates, targets)``, for training records only, keeps a subset of the candidates
    (``training.calcium.augment``: the noise candidates of an augmented volume); the reference scores and
    lesions are those of the whole volume either way."""
    candidates = find_candidates(hu, geometry, rules)
    if select is not None:
        candidates = select(candidates, candidate_targets(candidates, labels))
    inputs = candidate_inputs(hu, geometry, candidates)
    truth = score_arteries(hu, labels, geometry, rules)
    plaques = reference_lesions(hu, labels, candidates, geometry, rules)
    centre = np.asarray(heart_centre_lps if heart_centre_lps is not None
                        else geometry.voxel_to_patient((np.asarray(geometry.shape) - 1) / 2.0))
    return CaseRecord(
        case_id=case_id,
        local=inputs["local"], context=inputs["context"], scalars=inputs["scalars"],
        target=candidate_targets(candidates, labels),
        cand_scores=np.array([[c.score.agatston, c.score.volume_mm3, c.score.mass_mg] for c in candidates.items],
                             dtype=np.float64).reshape(-1, 3),
        cand_voxel=np.array([c.peak_voxel for c in candidates.items], dtype=np.int32).reshape(-1, 3),
        truth_scores=np.array([[s.agatston, s.volume_mm3, s.mass_mg] for s in truth.arteries.values()]),
        baseline_agatston=np.array([baseline_agatston(candidates, geometry, centre, radius) if heart_centre_lps
                                    is not None else np.nan for radius in BASELINE_RADII_MM]),
        plaque_artery=plaques[0], plaque_candidate=plaques[1], plaque_agatston=plaques[2],
        thumbnail=thumbnail(hu, geometry, centre),
    )


def candidate_targets(candidates: Candidates, labels: np.ndarray) -> np.ndarray:
    """Class of each candidate: the artery labelling at least half its voxels (most voxels wins), else 0."""
    comp = candidates.components
    n = len(candidates.items)
    counts = np.zeros((n + 1, len(CLASSES)), dtype=np.int64)
    inside = comp > 0
    np.add.at(counts, (comp[inside], np.minimum(labels[inside], len(CLASSES) - 1)), 1)
    counts = counts[1:]
    arteries = counts[:, 1:]
    best = 1 + arteries.argmax(axis=1)
    labelled = arteries.max(axis=1) * 2 >= counts.sum(axis=1)
    return np.where(labelled & (arteries.max(axis=1) > 0), best, 0).astype(np.int64)


def reference_lesions(hu: np.ndarray, labels: np.ndarray, candidates: Candidates, geometry: Geometry,
                      rules: ScoringRules) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference lesions — 26-connected calcium of one artery label with a counted per-slice lesion — as
    (artery, index of the candidate holding most of its voxels or -1, Agatston)."""
    arteries, matches, scores = [], [], []
    labelled = ndimage.find_objects((labels > 0).astype(np.uint8)) if labels.any() else []
    if not labelled:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    hu, labels, components = hu[labelled[0]], labels[labelled[0]], candidates.components[labelled[0]]
    for value in ARTERIES:
        pieces, _ = ndimage.label((labels == value) & (hu >= rules.threshold_hu), structure=_CONNECT_26)
        for piece, box in enumerate(ndimage.find_objects(pieces), start=1):
            mine = pieces[box] == piece
            crop = Geometry(shape=mine.shape, spacing=geometry.spacing)
            score = score_lesions(find_lesions(hu[box], mine, crop, rules), crop, rules)
            if score.lesions == 0:
                continue
            owners = components[box][mine]
            owners = owners[owners > 0]
            arteries.append(value)
            matches.append(int(np.bincount(owners).argmax()) - 1 if owners.size else -1)
            scores.append(score.agatston)
    return (np.asarray(arteries, dtype=np.int64), np.asarray(matches, dtype=np.int64),
            np.asarray(scores, dtype=np.float64))


def baseline_agatston(candidates: Candidates, geometry: Geometry, heart_centre_lps: np.ndarray,
                      radius_mm: float) -> float:
    """Rule baseline with the model's own candidate stage (``find_candidates``: the same lesions, bone and
    body rules): total Agatston of every candidate whose peak voxel lies within ``radius_mm`` of the heart
    centre (the phantom's true centre: an oracle-placed heart ROI), no artery assignment. The radius is
    chosen on validation (``training.calcium.pipeline``)."""
    if not candidates.items:
        return 0.0
    peaks = geometry.voxel_to_patient(np.array([c.peak_voxel for c in candidates.items], dtype=float))
    near = np.linalg.norm(peaks - np.asarray(heart_centre_lps, dtype=float), axis=1) <= radius_mm
    return float(sum(c.score.agatston for c, keep in zip(candidates.items, near, strict=True) if keep))


def thumbnail(hu: np.ndarray, geometry: Geometry, centre_lps: np.ndarray) -> np.ndarray:
    """A 64 x 64 uint8 axial view (window 350/50) of a 180 mm field around ``centre_lps``."""
    step = THUMBNAIL_FIELD_MM / THUMBNAIL
    axis = (np.arange(THUMBNAIL) - (THUMBNAIL - 1) / 2) * step
    rows, cols = np.meshgrid(axis, axis, indexing="ij")
    points = np.stack([cols, rows, np.zeros_like(rows)], axis=-1).reshape(-1, 3) + centre_lps
    values = ndimage.map_coordinates(hu, geometry.patient_to_voxel(points).T, order=1, cval=-1000.0)
    scaled = np.clip((values - (50 - 175)) / 350, 0, 1) * 255
    return scaled.reshape(THUMBNAIL, THUMBNAIL).astype(np.uint8)
