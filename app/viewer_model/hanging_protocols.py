"""Hanging protocols as data (JSON in resources/hanging_protocols/, and the reader's own in the per-user
folder): rules on modality, body part, description and number of priors pick a layout, the series of each
viewport, a window preset per viewport, the links and the AI plugin to offer. Qt-free.

A protocol file::

    {"schema_version": 1, "id": "ct_current_vs_prior", "name": "CT: current vs prior", "priority": 20,
     "match": {"modalities": ["CT"], "body_parts": [], "description": "", "min_priors": 1},
     "layout": "1x2",
     "viewports": [{"study": "current", "series": "shown", "window_preset": "Mediastinum"},
                   {"study": "prior", "prior": 0, "series": "match"}],
     "links": {"scroll": true, "zoom_pan": true, "window": true},
     "ai_plugin": "<plugin id>"}

Viewport ``series``: ``"shown"`` (the series the reader opened; current study only), ``"match"`` (the
study's series that best matches the shown one: modality, body part, description, orientation), or
``{"modality": "MR", "description": "regex"}``. ``study``: ``"current"`` or ``"prior"`` with ``prior``
0 for the newest. ``match.description`` is a regular expression searched in the shown series' description.
The protocol that matches with the highest priority wins (the reader's own beat the shipped ones at equal
priority).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.viewer_model.comparison import GRID_LAYOUTS, Links
from app.viewer_model.priors import SeriesFacts, match_prior_series
from engine.atomic import atomic_write
from engine.paths import data_dir
from engine.resources import resource_root

SCHEMA_VERSION = 1
SHIPPED = resource_root() / "resources" / "hanging_protocols"
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ProtocolError(ValueError):
    """A protocol file that cannot be used: names the file and the reason."""

    def __init__(self, source: str | Path, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source, self.reason = str(source), reason


@dataclass(frozen=True)
class SeriesRule:
    """Which series fills a viewport."""

    study: str = "current"  # current | prior
    prior: int = 0  # which prior (0 = newest)
    series: str = "shown"  # shown | match | rule
    modality: str = ""
    description: str = ""  # regex, for series == "rule"
    window_preset: str = ""  # a preset name of the modality's list ("" = the series' default)
    orientation: str = ""  # axial / coronal / sagittal ("" = the acquisition plane)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"study": self.study}
        if self.study == "prior":
            data["prior"] = self.prior
        data["series"] = self.series if self.series != "rule" else \
            {k: v for k, v in (("modality", self.modality), ("description", self.description)) if v}
        for key in ("window_preset", "orientation"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class HangingProtocol:
    id: str
    name: str
    layout: str
    viewports: tuple[SeriesRule, ...]
    modalities: tuple[str, ...] = ()
    body_parts: tuple[str, ...] = ()
    description: str = ""
    min_priors: int = 0
    priority: int = 0
    links: Links = field(default_factory=Links)
    ai_plugin: str = ""
    source: str = ""
    user: bool = False

    def matches(self, shown: SeriesFacts, n_priors: int) -> bool:
        """Whether this protocol hangs a study whose shown series is ``shown`` with ``n_priors`` priors."""
        if self.modalities and shown.modality.upper() not in self.modalities:
            return False
        if self.body_parts and shown.body_part.upper() not in self.body_parts:
            return False
        if self.description and not re.search(self.description, shown.description, re.IGNORECASE):
            return False
        return n_priors >= self.min_priors

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION, "id": self.id, "name": self.name, "priority": self.priority,
            "match": {"modalities": list(self.modalities), "body_parts": list(self.body_parts),
                      "description": self.description, "min_priors": self.min_priors},
            "layout": self.layout, "viewports": [rule.to_json() for rule in self.viewports],
            "links": {"scroll": self.links.scroll, "zoom_pan": self.links.zoom_pan, "window": self.links.window},
            "ai_plugin": self.ai_plugin,
        }  # fmt: skip


def parse_protocol(data: Any, source: str | Path, user: bool = False) -> HangingProtocol:
    """A validated protocol from its JSON value (ProtocolError naming ``source`` and the field)."""
    if not isinstance(data, dict):
        raise ProtocolError(source, "a protocol must be a JSON object")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ProtocolError(source, f"schema_version must be {SCHEMA_VERSION}, got {data.get('schema_version')!r}")
    unknown = set(data) - {"schema_version", "id", "name", "priority", "match", "layout", "viewports", "links",
                           "ai_plugin", "_doc"}
    if unknown:
        raise ProtocolError(source, f"unknown field(s): {', '.join(sorted(unknown))}")
    ident, name = str(data.get("id", "")), str(data.get("name", "")).strip()
    if not _ID.match(ident):
        raise ProtocolError(source, f"id must be lower-case letters, digits, '_' or '-', got {ident!r}")
    if not name:
        raise ProtocolError(source, "name must not be empty")
    layout = data.get("layout")
    if layout not in GRID_LAYOUTS:
        raise ProtocolError(source, f"layout must be one of {', '.join(GRID_LAYOUTS)}, got {layout!r}")
    rows, columns = GRID_LAYOUTS[layout]
    viewports = data.get("viewports")
    if not isinstance(viewports, list) or not 1 <= len(viewports) <= rows * columns:
        raise ProtocolError(source, f"viewports must list 1 to {rows * columns} entries for layout {layout}")
    rules = tuple(_rule(entry, source, i) for i, entry in enumerate(viewports))
    match = data.get("match", {})
    if not isinstance(match, dict):
        raise ProtocolError(source, "match must be an object")
    description = str(match.get("description", "") or "")
    try:
        re.compile(description)
    except re.error as error:
        raise ProtocolError(source, f"match.description is not a regular expression: {error}") from None
    links = data.get("links", {})
    if not isinstance(links, dict) or set(links) - {"scroll", "zoom_pan", "window"}:
        raise ProtocolError(source, "links may only set scroll, zoom_pan and window (true / false)")
    min_priors = match.get("min_priors", 0)
    if not isinstance(min_priors, int) or min_priors < 0:
        raise ProtocolError(source, f"match.min_priors must be a whole number >= 0, got {min_priors!r}")
    needed = max((rule.prior + 1 for rule in rules if rule.study == "prior"), default=0)
    return HangingProtocol(
        id=ident, name=name, layout=layout, viewports=rules,
        modalities=tuple(str(m).upper() for m in match.get("modalities", [])),
        body_parts=tuple(str(b).upper() for b in match.get("body_parts", [])),
        description=description, min_priors=max(min_priors, needed), priority=int(data.get("priority", 0)),
        links=Links(**{k: bool(v) for k, v in links.items()}), ai_plugin=str(data.get("ai_plugin", "") or ""),
        source=str(source), user=user,
    )  # fmt: skip


def _rule(entry: Any, source: str | Path, index: int) -> SeriesRule:
    where = f"viewports[{index}]"
    if not isinstance(entry, dict):
        raise ProtocolError(source, f"{where} must be an object")
    study = entry.get("study", "current")
    if study not in ("current", "prior"):
        raise ProtocolError(source, f"{where}.study must be 'current' or 'prior', got {study!r}")
    prior = entry.get("prior", 0)
    if not isinstance(prior, int) or prior < 0:
        raise ProtocolError(source, f"{where}.prior must be a whole number >= 0")
    series = entry.get("series", "match" if study == "prior" else "shown")
    modality, description = "", ""
    if isinstance(series, dict):
        modality, description = str(series.get("modality", "")).upper(), str(series.get("description", ""))
        try:
            re.compile(description)
        except re.error as error:
            raise ProtocolError(source, f"{where}.series.description is not a regular expression: {error}") from None
        series = "rule"
    elif series not in ("shown", "match"):
        raise ProtocolError(source, f"{where}.series must be 'shown', 'match' or an object, got {series!r}")
    if series == "shown" and study != "current":
        raise ProtocolError(source, f"{where}: 'shown' is the current study's series; a prior uses 'match'")
    orientation = str(entry.get("orientation", "") or "")
    if orientation not in ("", "axial", "coronal", "sagittal"):
        raise ProtocolError(source, f"{where}.orientation must be axial, coronal or sagittal")
    return SeriesRule(study, prior, series, modality, description, str(entry.get("window_preset", "") or ""),
                      orientation)


def load_protocols(folders: Iterable[tuple[Path, bool]] | None = None) -> tuple[list[HangingProtocol], list[str]]:
    """Every protocol of the shipped folder and the user's (``(folder, is_user)`` pairs), and one problem
    line per file that could not be used (the others still load)."""
    folders = [(SHIPPED, False), (user_folder(), True)] if folders is None else list(folders)
    protocols: dict[str, HangingProtocol] = {}
    problems: list[str] = []
    for folder, user in folders:
        for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
            try:
                protocol = parse_protocol(json.loads(path.read_text(encoding="utf-8")), path, user)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
                problems.append(f"{path}: not readable JSON ({error})")
                continue
            except ProtocolError as error:
                problems.append(str(error))
                continue
            protocols[protocol.id] = protocol  # the user's file of the same id replaces the shipped one
    return list(protocols.values()), problems


def choose_protocol(protocols: list[HangingProtocol], shown: SeriesFacts, n_priors: int) -> HangingProtocol | None:
    """The matching protocol of highest priority (the user's first, then more viewports, then id)."""
    fitting = [p for p in protocols if p.matches(shown, n_priors)]
    if not fitting:
        return None
    return max(fitting, key=lambda p: (p.priority, p.user, p.min_priors, len(p.viewports), p.id))


def user_folder() -> Path:
    """Where the reader's own protocols are saved (per-user data folder)."""
    return data_dir() / "hanging_protocols"


def save_protocol(protocol: HangingProtocol, folder: Path | None = None) -> Path:
    """Write ``protocol`` as ``<id>.json`` in the user's folder (atomically); returns the path."""
    target = (folder or user_folder()) / f"{protocol.id}.json"
    parse_protocol(protocol.to_json(), target)  # never write what could not be read back
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target, "w") as handle:
        json.dump(protocol.to_json(), handle, indent=2)
        handle.write("\n")
    return target


@dataclass(frozen=True)
class Placement:
    """What a protocol puts in one viewport: the series (None: nothing fits) and its window preset."""

    index: int
    rule: SeriesRule
    series: SeriesFacts | None
    label: str


def resolve(protocol: HangingProtocol, shown: SeriesFacts, current: list[SeriesFacts],
            priors: list[tuple[str, list[SeriesFacts]]]) -> list[Placement]:
    """The series of each viewport: ``current`` are the current study's series, ``priors`` the prior
    studies newest first as (label, series)."""
    placements = []
    for index, rule in enumerate(protocol.viewports):
        if rule.study == "current":
            pool, label = current, "Current"
        elif rule.prior < len(priors):
            label, pool = priors[rule.prior]
        else:
            placements.append(Placement(index, rule, None, f"Prior {rule.prior + 1}: none"))
            continue
        placements.append(Placement(index, rule, _pick(rule, shown, pool), label))
    return placements


def _pick(rule: SeriesRule, shown: SeriesFacts, pool: list[SeriesFacts]) -> SeriesFacts | None:
    if rule.series == "shown":
        return shown
    if rule.series == "match":
        return match_prior_series(shown, pool)
    fitting = [s for s in pool if (not rule.modality or s.modality == rule.modality)
               and (not rule.description or re.search(rule.description, s.description, re.IGNORECASE))]
    return fitting[0] if fitting else None


def arrangement_protocol(name: str, layout: str, rules: list[SeriesRule], shown: SeriesFacts, links: Links,
                         ai_plugin: str = "") -> HangingProtocol:
    """The reader's current arrangement as a protocol for studies like the shown one (its modality and
    body part; enough priors for the prior viewports)."""
    ident = re.sub(r"[^a-z0-9_-]+", "_", name.strip().lower()).strip("_")[:64] or "my_protocol"
    needed = max((rule.prior + 1 for rule in rules if rule.study == "prior"), default=0)
    return HangingProtocol(ident, name.strip() or ident, layout, tuple(rules), (shown.modality,),
                           (shown.body_part,) if shown.body_part else (), "", needed, 50, links, ai_plugin,
                           user=True)
