"""run_plugin: resolve a plugin, check its models and inputs, run it, stamp provenance and audit the run."""

from __future__ import annotations

import dataclasses
import functools
import os

from engine.ai import audit, domain
from engine.ai.context import PluginContext
from engine.ai.entry import PluginError, run_entry
from engine.ai.install import trust_warnings
from engine.ai.manifest import Manifest
from engine.ai.plausibility import apply_bounds
from engine.ai.registry import Plugin, PluginRegistry, discover
from engine.ai.result import AnalysisResult, Finding, Provenance
from engine.ai.result_json import result_sha256
from engine.ai.sessions import SessionCache, shared_cache
from engine.ai.suitability import Assessment, InputRefused, assess
from engine.progress import CancelToken, ProgressCallback
from engine.volume import CodedConcept, Volume

AUDIT_EVENT = "ai_run"
SIZE_UNITS = frozenset({"mm", "mm2", "mm3", "cm", "cm2", "cm3", "mL", "ml", "L"})


@functools.cache
def default_registry() -> PluginRegistry:
    """Plugins of the repository folder and the entry points, discovered once per process."""
    return discover()


def run_plugin(
    plugin_id: str,
    inputs: dict[str, Volume],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    registry: PluginRegistry | None = None,
    sessions: SessionCache | None = None,
    audit_log: str | os.PathLike | None = None,
) -> AnalysisResult:
    """Run plugin ``plugin_id`` on ``inputs`` (role -> Volume) and return its result with provenance.

    The inputs are checked against the manifest's suitability rules first; the output then gets the
    plausibility bounds and the domain score, and every finding is "needs review" when either says so.
    Raises InputRefused (unsuitable study), PluginRefused (model hash), PluginError (inputs / output) or
    Cancelled. Every run that starts or is refused, finished or not, is appended to the audit log (default:
    the per-user log).
    """
    plugin = (registry or default_registry()).get(plugin_id)
    manifest = plugin.manifest
    check_inputs(manifest, inputs)
    assessment = assess(manifest.suitability, inputs)
    if assessment.refusals:
        refused = InputRefused(manifest.id, assessment.refusals)
        audit.append(AUDIT_EVENT, _refusal_details(manifest, inputs, str(refused)), audit_log)
        raise refused
    context = PluginContext(plugin=plugin, inputs=dict(inputs), sessions=sessions or shared_cache(),
                            cancel=cancel or CancelToken(), progress=progress, sizes_known=assessment.sizes_known)
    result, provenance = run_entry(context, lambda entry: entry(context), AnalysisResult, AUDIT_EVENT,
                                   lambda provenance, status: _run_details(provenance, status, {}), audit_log)
    review_reasons = assess_output(plugin, result, assessment)
    result.warnings = [*trust_warnings(plugin.folder), *result.warnings]
    concepts = {label.name: label.code.concept() for label in manifest.labels}
    result.findings = [_stamp(finding, manifest, concepts, capped=bool(review_reasons))
                       for finding in result.findings]
    result.provenance = provenance
    details = _run_details(provenance, "completed", {"result": result_sha256(result)})
    audit.append(AUDIT_EVENT, details, audit_log)
    return result


def check_inputs(manifest: Manifest, inputs: dict[str, Volume]) -> None:
    """Every required role present, no unknown roles, modalities allowed by each role (when known)."""
    roles = {role.role: role for role in manifest.inputs}
    unknown = sorted(set(inputs) - set(roles))
    if unknown:
        names = ", ".join(roles)
        raise PluginError(f"plugin {manifest.id} has no input role {unknown[0]!r} (roles: {names})")
    missing = [name for name, role in roles.items() if role.required and name not in inputs]
    if missing:
        raise PluginError(f"plugin {manifest.id} needs a series for role(s): {', '.join(missing)}")
    for name, volume in inputs.items():
        allowed = {m.upper() for m in roles[name].modalities or manifest.modalities}
        if volume.modality and volume.modality.upper() not in allowed:
            raise PluginError(f"plugin {manifest.id}: role {name} takes {', '.join(sorted(allowed))}, "
                              f"not {volume.modality}")


def assess_output(plugin: Plugin, result: AnalysisResult, assessment: Assessment) -> list[str]:
    """Apply the output checks to ``result`` in place: sizes withheld when the spacing is unknown, the
    plausibility bounds, the plugin's own review reasons, the domain score. Every reason goes into
    ``result.warnings``; the reasons that put every finding to "needs review" are returned."""
    manifest = plugin.manifest
    if not assessment.sizes_known:
        withhold_sizes(result)
    flags = apply_bounds(manifest.plausibility, result)
    result.domain = domain.score(manifest.domain, plugin.folder, result.domain_features)
    banner = result.domain.banner()
    review = flags + list(result.review_reasons) + ([banner] if banner else [])
    result.warnings = [*assessment.warnings, *review, *result.warnings]
    return review


def withhold_sizes(result: AnalysisResult) -> None:
    """No size in mm (findings) and no length, area or volume measurement: the pixel spacing is unknown."""
    result.findings = [dataclasses.replace(finding, size_mm=None) for finding in result.findings]
    result.measurements = [m for m in result.measurements if m.unit not in SIZE_UNITS]


def _stamp(finding: Finding, manifest: Manifest, concepts: dict[str, CodedConcept], capped: bool) -> Finding:
    """The tier from the manifest's thresholds (one source of truth; "needs review" when ``capped``) and the
    label's coded concept."""
    return dataclasses.replace(
        finding,
        tier="needs_review" if capped else manifest.calibration.tier(finding.probability),
        concept=finding.concept or concepts.get(finding.label),
    )


def _refusal_details(manifest: Manifest, inputs: dict[str, Volume], reason: str) -> dict:
    return {
        "status": f"refused: {reason}",
        "plugin_id": manifest.id,
        "plugin_version": manifest.version,
        "inputs": {role: dataclasses.asdict(volume.ids) for role, volume in inputs.items()},
    }


def _run_details(provenance: Provenance, status: str, outputs: dict[str, str]) -> dict:
    return {**provenance.audit_details(status),
            "inputs": {role: dataclasses.asdict(ids) for role, ids in provenance.inputs.items()},
            "outputs": outputs}
