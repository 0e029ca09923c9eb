"""Which series of a study fill a plugin's input roles: candidates with the facts role matching reads
(modality, description, sequence tags of the first header, 2D or 3D), the automatic match with the user's
overrides, and loading the chosen series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.ai.manifest import Manifest
from engine.ai.roles import RoleMatch, SeriesCandidate, match_roles
from engine.analysis.headers import keyword_text, read_header
from engine.series import SeriesInfo

SEQUENCE_TAGS = ("ScanningSequence", "SequenceVariant", "ContrastBolusAgent", "InversionTime")


def series_key(info: SeriesInfo, study: Sequence[SeriesInfo]) -> str:
    """The id a candidate goes by: the SeriesInstanceUID, with ``#stack`` when one UID holds several stacks."""
    shared = sum(other.series_uid == info.series_uid for other in study) > 1
    return f"{info.series_uid}#{info.stack_index}" if shared or info.stack_index else info.series_uid


def candidate(key: str, info: SeriesInfo) -> SeriesCandidate:
    """What role matching sees of a series: description, modality, sequence tags, dimensions."""
    tags: dict[str, str] = {}
    if info.instances:
        header = read_header(info)
        tags = {keyword: text for keyword in SEQUENCE_TAGS if (text := keyword_text(header, keyword)) is not None}
    return SeriesCandidate(series_uid=key, description=info.description, modality=info.modality, tags=tags,
                           dimensions="3d" if is_volume(info) else "2d")


def is_volume(info: SeriesInfo) -> bool:
    """True for a stack the loader returns as a (z, y, x) volume of several slices (not a projection, a
    single slice or 2D+time)."""
    return info.extra.get("kind", "volume") == "volume" and len(info.shape) == 3 and info.shape[0] > 1


def match_study(manifest: Manifest, study: Sequence[SeriesInfo], overrides: Mapping[str, str] | None = None
                ) -> tuple[RoleMatch, dict[str, SeriesInfo]]:
    """The automatic role match (``overrides`` role -> series key or UID win) and the series by key."""
    keyed = {series_key(info, study): info for info in study}
    chosen = {role: _key_for(uid, keyed) for role, uid in (overrides or {}).items()}
    match = match_roles(manifest.inputs, [candidate(key, info) for key, info in keyed.items()], chosen)
    return match, keyed


def _key_for(uid: str, keyed: Mapping[str, SeriesInfo]) -> str:
    for key, info in keyed.items():
        if uid in (key, info.series_uid):
            return key
    raise ValueError(f"series {uid} is not in the study")
