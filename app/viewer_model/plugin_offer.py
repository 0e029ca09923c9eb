"""Which AI plugin the panel offers for the open study: one whose manifest inputs the study's series fill
(the same role matching as `sightline analyze`) and whose suitability rules do not refuse the series on
screen; the hanging protocol's choice first when it fits. Nothing fits -> nothing is offered (the last
study's plugin is never kept). Qt-free."""

from __future__ import annotations

from dataclasses import dataclass

from engine.ai.manifest import Manifest
from engine.ai.suitability import assess
from engine.volume import Volume


@dataclass(frozen=True)
class Offer:
    """The plugin offered (None: none fits) and, per plugin considered, why it does or does not fit."""

    plugin_id: str | None
    reasons: dict[str, str]


def plugin_fits(manifest: Manifest, volume: Volume, role_match_complete: bool) -> str:
    """'' when the plugin can analyse the shown ``volume``'s study, else the reason it cannot."""
    if volume.modality.upper() not in {m.upper() for m in manifest.modalities}:
        return f"reads {'/'.join(manifest.modalities)}, not {volume.modality or 'this modality'}"
    if not role_match_complete:
        return "the study lacks a series for a required input"
    refusals = assess(manifest.suitability, {manifest.inputs[0].role: volume}).refusals
    return refusals[0] if refusals else ""


def offer_plugin(manifests: dict[str, Manifest], volume: Volume | None, complete: dict[str, bool],
                 preferred: str = "") -> Offer:
    """The plugin to offer for ``volume``: ``preferred`` (the protocol's) when it fits, else the first that
    fits in the given order. ``complete[id]``: whether the study's series fill the plugin's required roles."""
    if volume is None:
        return Offer(None, {})
    reasons = {pid: plugin_fits(manifest, volume, complete.get(pid, False)) for pid, manifest in manifests.items()}
    if preferred in reasons and not reasons[preferred]:
        return Offer(preferred, reasons)
    return Offer(next((pid for pid, reason in reasons.items() if not reason), None), reasons)
