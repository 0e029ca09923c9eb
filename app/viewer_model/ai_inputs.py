"""Choosing a plugin's inputs for the current study: a summary of each discovered plugin, the study's
series as candidates for the manifest's roles (auto-matched by engine.analysis.inputs, the same rules as
`sightline analyze`; user overrides kept), and the chosen series for engine.analysis (the volume on screen
is reused, not read again). Qt-free."""

from __future__ import annotations

from dataclasses import dataclass

from engine.ai.manifest import Manifest
from engine.ai.registry import Plugin
from engine.ai.roles import RoleMatch, SeriesCandidate, match_roles
from engine.analysis.inputs import candidate as series_candidate
from engine.catalog import Catalog, SeriesKey
from engine.series import SeriesInfo
from engine.volume import Volume

SHOWN = "shown"  # candidate id of the volume on screen when the catalog does not hold it


@dataclass(frozen=True)
class PluginSummary:
    """What the panel lists about a plugin before it runs."""

    id: str
    title: str  # "Name 1.2.3 (detection)"
    models: str  # "model.onnx: hash ok" per model
    runnable: bool
    intended_use: str


def plugin_summary(plugin: Plugin) -> PluginSummary:
    """Name, version, kind, each model file's SHA-256 check and the other hashed files' in one line (their
    problems named); hashes the files: call once per plugin."""
    manifest = plugin.manifest
    words = {"ok": "hash ok", "mismatch": "HASH MISMATCH: refused", "missing": "MISSING: refused"}
    status = plugin.hash_status()
    model_names = {model.name for model in manifest.models}
    lines = [f"{name}: {words[state]}" for name, (state, _) in status.items() if name in model_names]
    files = {name: state for name, (state, _) in status.items() if name not in model_names}
    if files:
        bad = [f"{name}: {words[state]}" for name, state in files.items() if state != "ok"]
        lines += bad or [f"{len(files)} data files: hash ok"]
    models = "; ".join(lines)
    return PluginSummary(manifest.id, f"{manifest.name} {manifest.version} ({manifest.kind})", models,
                         all(state == "ok" for state, _ in status.values()), manifest.intended_use)


@dataclass(frozen=True)
class Candidate:
    """A series of the study that may fill a role: catalog key (None for the shown in-memory volume)."""

    id: str
    key: SeriesKey | None
    modality: str
    description: str
    info: SeriesInfo | None = None  # the catalogued series (its headers give the sequence tags)

    @property
    def title(self) -> str:
        return f"{self.modality} {self.description}".strip() or self.id


def study_candidates(catalog: Catalog, volume: Volume | None) -> list[Candidate]:
    """The catalogued series of the shown volume's study; the shown volume itself when not catalogued."""
    if volume is None:
        return []
    rows = catalog.series(volume.ids.study_uid) if volume.ids.study_uid else []
    candidates = [Candidate(_candidate_id(row.key), row.key, row.modality, row.description,
                            catalog.series_info(row.key)) for row in rows]
    if not any(row.key.series_uid == volume.ids.series_uid for row in rows):
        description = str(volume.meta.get("description", "")) or "image on screen"
        candidates.insert(0, Candidate(SHOWN, None, volume.modality, description))
    return candidates


def match_inputs(manifest: Manifest, candidates: list[Candidate], overrides: dict[str, str]) -> RoleMatch:
    """engine.ai.roles.match_roles over the candidates (ids as series UIDs), with the facts the CLI's match
    reads: sequence tags and 2D / 3D of catalogued series."""
    series = [series_candidate(c.id, c.info) if c.info is not None else SeriesCandidate(c.id, c.description, c.modality)
              for c in candidates]
    return match_roles(manifest.inputs, series, overrides)


def chosen_series(catalog: Catalog, chosen: dict[str, Candidate], shown: Volume | None
                  ) -> tuple[dict[str, SeriesInfo | None], dict[str, Volume]]:
    """Role -> series to load, and role -> volume already in memory (the shown one, when it was chosen)."""
    series: dict[str, SeriesInfo | None] = {}
    loaded: dict[str, Volume] = {}
    for role, candidate in chosen.items():
        series[role] = catalog.series_info(candidate.key) if candidate.key is not None else None
        if shown is not None and (candidate.id == SHOWN or candidate.key.series_uid == shown.ids.series_uid):
            loaded[role] = shown
    return series, loaded


def _candidate_id(key: SeriesKey) -> str:
    return key.series_uid if key.stack_index == 0 else f"{key.series_uid}#{key.stack_index}"
