"""Match a study's series to a plugin's input roles (T1, T1c, T2, FLAIR, ...), with user overrides.

Each role's rules come from the manifest (:class:`engine.ai.manifest.InputRole`). A series is eligible
for a role when its modality, description and sequence tags pass the rules; the score (how many positive
rules matched) breaks ties, and the one-to-one assignment with the highest total score wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.ai.manifest import InputRole


@dataclass(frozen=True)
class SeriesCandidate:
    """What role matching needs to know about one series of the study."""

    series_uid: str
    description: str = ""
    modality: str = ""
    tags: dict[str, str] = field(default_factory=dict)  # DICOM keyword -> value, e.g. ScanningSequence
    dimensions: str = ""  # "2d" (projection, 2D+time) or "3d" (volume); "" when not known


@dataclass
class RoleMatch:
    """Role -> series UID, the eligible series per role (best first), and required roles left unmatched."""

    assignment: dict[str, str]
    candidates: dict[str, list[str]]
    missing: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing


def role_score(role: InputRole, series: SeriesCandidate) -> int | None:
    """None when ``series`` cannot fill ``role``, else the number of positive rules it matched (>= 0)."""
    if role.modalities and series.modality.upper() not in {m.upper() for m in role.modalities}:
        return None
    if role.dimensions != "any" and series.dimensions and series.dimensions != role.dimensions:
        return None
    if any(re.search(pattern, series.description) for pattern in role.exclude_patterns):
        return None
    score = 0
    if role.description_patterns:
        if not any(re.search(pattern, series.description) for pattern in role.description_patterns):
            return None
        score += 1
    for keyword, pattern in role.sequence_tags.items():
        if not re.search(pattern, series.tags.get(keyword, "")):
            return None
        score += 1
    return score


def match_roles(
    roles: Sequence[InputRole],
    series: Sequence[SeriesCandidate],
    overrides: Mapping[str, str] | None = None,
) -> RoleMatch:
    """Assign each role at most one series and each series at most one role; ``overrides`` (role -> series
    UID, chosen by the user) are kept as given, even when the rules would not pick them."""
    overrides = dict(overrides or {})
    known_roles = {role.role for role in roles}
    known_series = {s.series_uid for s in series}
    for role_name, uid in overrides.items():
        if role_name not in known_roles:
            names = ", ".join(sorted(known_roles))
            raise ValueError(f"override for unknown role {role_name!r} (roles: {names})")
        if uid not in known_series:
            raise ValueError(f"override for role {role_name!r} names series {uid} that is not in the study")
    if len(set(overrides.values())) != len(overrides):
        raise ValueError("overrides give the same series to two roles")

    scores = {(r.role, s.series_uid): role_score(r, s) for r in roles for s in series}
    candidates = {
        r.role: [s.series_uid for s in sorted(series, key=lambda s: -(scores[r.role, s.series_uid] or 0))
                 if scores[r.role, s.series_uid] is not None]
        for r in roles
    }
    assignment = dict(overrides)
    open_roles = [r.role for r in roles if r.role not in overrides]
    open_series = [s.series_uid for s in series if s.series_uid not in overrides.values()]
    if open_roles and open_series:
        # maximise the number of filled roles first, then the total score
        gain = np.full((len(open_roles), len(open_series)), -1.0)
        for i, role_name in enumerate(open_roles):
            for j, uid in enumerate(open_series):
                score = scores[role_name, uid]
                if score is not None:
                    gain[i, j] = 1000.0 + score - j * 1e-6  # ties: the series listed first
        pairs = max_weight_assignment(gain)
        assignment.update({open_roles[i]: open_series[j] for i, j in pairs if gain[i, j] >= 0})
    missing = [r.role for r in roles if r.required and r.role not in assignment]
    ordered = {r.role: assignment[r.role] for r in roles if r.role in assignment}
    return RoleMatch(assignment=ordered, candidates=candidates, missing=missing)


def max_weight_assignment(gain: np.ndarray) -> list[tuple[int, int]]:
    """The (row, column) pairs of a one-to-one assignment of maximum total ``gain`` (min(rows, columns) pairs):
    the Hungarian algorithm with potentials (O(n^2 m)), the same optimum as scipy's linear_sum_assignment
    without importing scipy.optimize (0.6 s of imports, and 30 MB of the installer with scipy.linalg)."""
    gain = np.asarray(gain, dtype=float)
    transposed = gain.shape[0] > gain.shape[1]
    cost = -(gain.T if transposed else gain)
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=int)  # owner[j]: 1-based row assigned to column j (0: none)
    way = np.zeros(m + 1, dtype=int)
    for row in range(1, n + 1):
        owner[0], column = row, 0
        shortest = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[column] = True
            current = owner[column]
            reduced = cost[current - 1] - u[current] - v[1:]
            free = ~used[1:]
            better = free & (reduced < shortest[1:])
            shortest[1:][better] = reduced[better]
            way[1:][better] = column
            candidates = np.where(free, shortest[1:], np.inf)
            following = int(np.argmin(candidates)) + 1
            delta = candidates[following - 1]
            u[owner[used]] += delta
            v[used] -= delta
            shortest[~used] -= delta
            column = following
            if owner[column] == 0:
                break
        while column:
            previous = way[column]
            owner[column] = owner[previous]
            column = previous
    pairs = [(int(owner[j]) - 1, j - 1) for j in range(1, m + 1) if owner[j]]
    pairs = [(c, r) for r, c in pairs] if transposed else pairs
    return sorted(pairs)
