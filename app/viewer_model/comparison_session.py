"""Hanging a study in the comparison grid: which protocol, which series where (from the catalog), loading
them, and putting them in the grid with the protocol's links and window presets. Qt-free: the window runs
:func:`load_placements` as a background job and hands the outcome to :func:`hang`."""

from __future__ import annotations

from dataclasses import dataclass

from app.viewer_model.comparison import ComparisonGrid, Links
from app.viewer_model.hanging_protocols import (
    HangingProtocol,
    Placement,
    SeriesRule,
    arrangement_protocol,
    choose_protocol,
    resolve,
)
from app.viewer_model.priors import SeriesFacts, match_prior_series, priors, series_facts, study_facts
from app.viewer_model.window_presets import preset_window, presets_for
from engine.catalog import Catalog, SeriesKey
from engine.progress import CancelToken, ProgressCallback, report
from engine.volume import Volume


@dataclass(frozen=True)
class HangingPlan:
    """A protocol and the series it puts in each viewport."""

    protocol: HangingProtocol
    placements: list[Placement]

    @property
    def comparison(self) -> bool:
        """Whether it needs the comparison grid (more than the one shown series in one viewport)."""
        return len(self.placements) > 1 or any(p.rule.series != "shown" for p in self.placements)


@dataclass(frozen=True)
class Loaded:
    """A placement with its loaded volume (None when no series fitted the viewport)."""

    placement: Placement
    volume: Volume | None


def shown_facts(catalog: Catalog, key: SeriesKey) -> SeriesFacts:
    rows = [row for row in catalog.series_by_uid(key.series_uid) if row.key.stack_index == key.stack_index]
    if not rows:
        raise KeyError(f"series {key.series_uid} is not in the catalog")
    return series_facts(catalog, rows[0])


def prior_pools(catalog: Catalog, study_uid: str) -> list[tuple[str, list[SeriesFacts]]]:
    """The prior studies newest first, each as ('Prior YYYY-MM-DD', its series)."""
    return [(f"Prior {_date(study.date)}".strip(), study_facts(catalog, study.study_uid))
            for study in priors(catalog, study_uid)]


def plan(catalog: Catalog, key: SeriesKey, protocols: list[HangingProtocol],
         protocol_id: str | None = None) -> HangingPlan | None:
    """The plan for the shown series ``key``: the named protocol, else the best matching one (None if none)."""
    shown = shown_facts(catalog, key)
    pools = prior_pools(catalog, shown.study_uid)
    if protocol_id is not None:
        chosen = next((p for p in protocols if p.id == protocol_id), None)
        if chosen is None:
            raise KeyError(f"no hanging protocol {protocol_id!r} (known: {', '.join(p.id for p in protocols)})")
    else:
        chosen = choose_protocol(protocols, shown, len(pools))
    if chosen is None:
        return None
    current = study_facts(catalog, shown.study_uid)
    return HangingPlan(chosen, resolve(chosen, shown, current, pools))


def prior_beside_plan(catalog: Catalog, key: SeriesKey, links: Links | None = None) -> HangingPlan | None:
    """"Compare with prior": the shown series beside the matching series of the newest prior that has one."""
    shown = shown_facts(catalog, key)
    for number, (label, pool) in enumerate(prior_pools(catalog, shown.study_uid)):
        match = match_prior_series(shown, pool)
        if match is not None:
            rules = [SeriesRule("current", 0, "shown"), SeriesRule("prior", number, "match")]
            protocol = arrangement_protocol("Current vs prior", "1x2", rules, shown, links or Links(True, True, True))
            return HangingPlan(protocol, [Placement(0, rules[0], shown, "Current"),
                                          Placement(1, rules[1], match, label)])
    return None


def load_placements(catalog: Catalog, placements: list[Placement], reuse: dict[SeriesKey, Volume] | None = None,
                    progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> list[Loaded]:
    """Load the volume of every placement (``reuse``: volumes in memory already, e.g. the one on screen)."""
    from engine.dicom.loader import load_series

    reuse = dict(reuse or {})
    loaded = []
    for number, placement in enumerate(placements):
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(progress, number, len(placements), f"loading {placement.label}")
        facts = placement.series
        if facts is None:
            loaded.append(Loaded(placement, None))
            continue
        if facts.key not in reuse:
            reuse[facts.key] = load_series(catalog.series_info(facts.key), cancel=cancel)
        loaded.append(Loaded(placement, reuse[facts.key]))
    report(progress, len(placements), len(placements), "loaded")
    return loaded


def hang(grid: ComparisonGrid, protocol: HangingProtocol, loaded: list[Loaded]) -> list[str]:
    """Put the loaded series in the grid with the protocol's layout, links and window presets; returns one
    line per viewport left empty or refused (another patient's series never enters the grid)."""
    grid.clear()
    grid.set_layout(protocol.layout)
    grid.set_links(scroll=protocol.links.scroll, zoom_pan=protocol.links.zoom_pan, window=protocol.links.window)
    problems = []
    for item in loaded:
        placement = item.placement
        if item.volume is None:
            problems.append(f"viewport {placement.index + 1} ({placement.label}): no matching series")
            continue
        label = f"{placement.label}: {placement.series.modality} {placement.series.description}".strip()
        try:
            viewport = grid.set_series(placement.index, item.volume, label, placement.rule.orientation or None,
                                       tuple(placement.series.key))
        except ValueError as error:
            problems.append(f"viewport {placement.index + 1}: {error}")
            continue
        if placement.rule.window_preset:
            apply_named_preset(viewport.model, placement.rule.window_preset)
    return problems


def apply_named_preset(model, name: str) -> bool:  # noqa: ANN001 (a ViewerModel)
    """Apply the window preset called ``name`` (case-insensitive) of the model's modality."""
    volume = model.volume
    for preset in presets_for(model.window_presets, volume.modality):
        if str(preset.get("name", "")).lower() == name.lower():
            model.set_window(preset_window(preset, volume.array, volume.meta))
            return True
    return False


def current_arrangement(grid: ComparisonGrid, catalog: Catalog, shown: SeriesKey, name: str,
                        ai_plugin: str = "") -> HangingProtocol:
    """The grid as the reader arranged it, as a protocol: each viewport's series is described by its study
    (current / which prior) and as a match of the shown series or by its description."""
    facts = shown_facts(catalog, shown)
    prior_uids = [study.study_uid for study in priors(catalog, facts.study_uid)]
    rules = []
    for viewport in grid.shown():
        volume = viewport.volume
        if volume is None:
            continue
        study_uid, series_uid = volume.ids.study_uid, volume.ids.series_uid
        orientation = viewport.orientation if viewport.orientation in ("axial", "coronal", "sagittal") else ""
        if study_uid == facts.study_uid:
            series = "shown" if series_uid == shown.series_uid else "rule"
            rules.append(SeriesRule("current", 0, series, volume.modality.upper(),
                                    _exact(str(volume.meta.get("description", ""))) if series == "rule" else "",
                                    orientation=orientation))
        elif study_uid in prior_uids:
            rules.append(SeriesRule("prior", prior_uids.index(study_uid), "match", orientation=orientation))
    if not rules:
        raise ValueError("the grid shows no series to save as a protocol")
    return arrangement_protocol(name, grid.layout, rules, facts, grid.links, ai_plugin)


def _exact(text: str) -> str:
    import re

    return f"^{re.escape(text)}$" if text else ""


def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value
